"""A run imports the TFX components it runs, not every one TFX has."""

import json
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


DEFERRED = """
import json, os, sys, tempfile
from components import tfx_imports
tfx_imports.lazy_tfx_components()
said = {"deferred": tfx_imports.defer_optional_imports()}
from tfx.orchestration.portable import launcher
from tfx.dsl.input_resolution.strategies import span_range_strategy
from pipeline.runners import launching
from tfx.dsl.io import filesystem_registry
from tfx.dsl.components.base import base_beam_executor
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2
from pipeline.runners import executor_operators
def gfile():
    try:
        return filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY \
            .get_filesystem_for_path("gs://bucket/x").__name__
    except Exception as error:
        return type(error).__name__
said["before"] = {"tensorflow": "tensorflow" in sys.modules,
                  "apache_beam": "apache_beam" in sys.modules,
                  "gs": gfile()}

class Count(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        import apache_beam as beam
        with self._make_beam_pipeline() as p:
            _ = (p | beam.Create([1, 2, 3]) | beam.combiners.Count.Globally()
                 | beam.Map(lambda n: open(exec_properties["out"], "w")
                            .write(str(n))))

out = os.path.join(tempfile.mkdtemp(), "count")
spec = executable_spec_pb2.BeamExecutableSpec(
    python_executor_spec=executable_spec_pb2.PythonClassExecutableSpec(
        class_path="__main__.Count"))
operator = executor_operators.OPERATORS[type(spec)](spec)
operator.run_executor(data_types.ExecutionInfo(
    input_dict={}, output_dict={}, exec_properties={"out": out},
    execution_output_uri=os.path.join(os.path.dirname(out), "result"),
    stateful_working_dir=os.path.dirname(out),
    tmp_dir=os.path.dirname(out) + "/",
    pipeline_node=pipeline_pb2.PipelineNode(),
    pipeline_info=pipeline_pb2.PipelineInfo(id="p"), pipeline_run_id="r"))
from tfx.components.example_gen import utils
said["after"] = {"deferred": tfx_imports.optional_imports_deferred(),
                 "beam": base_beam_executor.beam is sys.modules["apache_beam"],
                 "gs": gfile(), "count": open(out).read(),
                 "span": span_range_strategy._SPAN == utils.SPAN_PROPERTY_NAME}
print(json.dumps(said))
"""


def test_optional_imports_wait_for_the_first_executor():
    """With TFX's optional imports deferred, TFX's launcher, resolvers and
    this project's launching import neither TensorFlow nor Beam; a Beam
    executor run through the executor operators then gets Beam, and fileio
    TensorFlow's gs:// filesystem, as if never deferred."""
    said = json.loads(_python(DEFERRED).stdout.splitlines()[-1])
    assert said["deferred"] is True
    assert said["before"] == {"tensorflow": False, "apache_beam": False,
                              "gs": "Exception"}, said
    assert said["after"] == {"deferred": False, "beam": True,
                             "gs": "TensorflowFilesystem", "count": "3",
                             "span": True}


ALREADY_IMPORTED = """
from tfx.utils import doc_controls
from components import tfx_imports
print("deferred", tfx_imports.defer_optional_imports())
"""


def test_nothing_is_deferred_once_a_module_took_its_import():
    assert _python(ALREADY_IMPORTED).stdout.splitlines() == [
        "deferred False"]
