"""A run imports the TFX components it runs, not every one TFX has."""

import os
import subprocess
import sys

from tests.pipeline import helpers

PROGRAM = """
import sys
from pipeline import startup
startup.lazy_tfx_components()
from tfx.orchestration.portable import launcher
from pipeline import factory
print("tuner", "tfx.components.tuner.component" in sys.modules)
print("infra", "tfx.components.infra_validator.component" in sys.modules)
from tfx.components import Tuner, FileBasedExampleGen
print("names", Tuner.__name__, FileBasedExampleGen.__name__)
import tfx.components
print("all", len(tfx.components.__all__))
"""


def test_tfx_components_init_runs_only_when_a_name_is_asked_for():
    result = subprocess.run([sys.executable, "-c", PROGRAM],
                            cwd=helpers.REPO, capture_output=True,
                            text=True, check=False,
                            env=dict(os.environ,
                                     TF_USE_LEGACY_KERAS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "tuner False" in lines and "infra False" in lines
    assert "names Tuner FileBasedExampleGen" in lines
    assert "all 16" in lines
