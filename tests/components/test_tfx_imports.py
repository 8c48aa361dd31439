"""A run imports the TFX components it runs, not every one TFX has."""

import os
import subprocess
import sys

from tests.pipeline import helpers

PROGRAM = """
import sys
from components import tfx_imports
tfx_imports.lazy_tfx_components()
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


def _python(program, **env):
    result = subprocess.run([sys.executable, "-c", program],
                            cwd=helpers.REPO, capture_output=True,
                            text=True, check=False,
                            env=dict(os.environ, TF_USE_LEGACY_KERAS="1",
                                     **env))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


THREADS = """
import sys, threading
from components import tfx_imports
assert tfx_imports.lazy_tfx_components()
package = sys.modules["tfx.components"]
runs = []
real = package.__spec__.loader.exec_module
package.__spec__.loader.exec_module = lambda m: (runs.append(1), real(m))
start, failed = threading.Barrier(8), []
def ask():
    start.wait()
    try:
        from tfx.components import Trainer, Evaluator
    except Exception as error:
        failed.append(repr(error))
threads = [threading.Thread(target=ask) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print("runs", len(runs), "failed", failed)
"""


def test_threads_asking_at_once_all_get_the_names_and_init_runs_once():
    assert "runs 1 failed []" in _python(THREADS).stdout.splitlines()


OTHER_TFX = """
import importlib.metadata, sys
real = importlib.metadata.version
importlib.metadata.version = lambda name: "1.17.0" if name == "tfx" else real(name)
from components import tfx_imports
print("deferred", tfx_imports.lazy_tfx_components())
print("registered", "tfx.components" in sys.modules)
import tfx.components
print("eager", "tfx.components.tuner.component" in sys.modules)
"""


def test_another_tfx_imports_as_shipped_with_one_log_line():
    result = _python(OTHER_TFX)
    assert result.stdout.splitlines() == ["deferred False",
                                          "registered False", "eager True"]
    lines = [line for line in result.stderr.splitlines()
             if "start-up deferral" in line]
    assert len(lines) == 1 and "TFX 1.17.0" in lines[0], result.stderr


def test_the_test_session_imports_tfx_as_the_commands_do():
    from components import tfx_imports  # pylint: disable=import-outside-toplevel
    assert tfx_imports.tfx_components_deferred()
