"""Executor operators that import a node's executor only when it runs.

TFX's portable `Launcher` makes its executor operator when it is made, and
TFX's operators import the executor's class there (TFX 1.16:
`python_executor_operator.py` and `beam_executor_operator.py`), so a node
found in TFX's cache still imports its executor and what that imports
(TFMA for the Evaluator, TFDV for StatisticsGen, TensorFlow Transform...):
seconds of every task of a cached Kubeflow run. `OPERATORS`, passed to the
Launcher as its `custom_executor_operators`, makes TFX's own operator only
when the Launcher runs the executor; a cached node then imports nothing
of it. Written for TFX 1.16's Launcher, which calls `run_executor` and
`with_execution_watcher` on its operator and nothing else. Before the
executor is imported, TFX's optional imports of TensorFlow and Beam, if
deferred, are restored (components/tfx_imports.py).
"""

from tfx.orchestration.portable import base_executor_operator
from tfx.orchestration.portable import launcher
from tfx.proto.orchestration import executable_spec_pb2

from components import tfx_imports


def _deferred(operator_class):
    """A stand-in for `operator_class` that makes it on first use."""

    class Deferred(base_executor_operator.BaseExecutorOperator):
        """Makes the real operator, importing the executor, at its run."""
        SUPPORTED_EXECUTOR_SPEC_TYPE = (
            operator_class.SUPPORTED_EXECUTOR_SPEC_TYPE)
        SUPPORTED_PLATFORM_CONFIG_TYPE = (
            operator_class.SUPPORTED_PLATFORM_CONFIG_TYPE)

        def __init__(self, executor_spec, platform_config=None):
            super().__init__(executor_spec, platform_config)
            self._operator = None

        def run_executor(self, execution_info, *args, **kwargs):
            if self._operator is None:
                tfx_imports.restore_optional_imports()
                self._operator = operator_class(self._executor_spec,
                                                self._platform_config)
                if self._execution_watcher_address:
                    self._operator.with_execution_watcher(
                        self._execution_watcher_address)
            return self._operator.run_executor(execution_info, *args,
                                               **kwargs)

    Deferred.__name__ = f"Deferred{operator_class.__name__}"
    Deferred.__qualname__ = Deferred.__name__
    return Deferred


# The executable specs whose executor is a Python class this process
# imports; a container executor (Docker) imports nothing here.
OPERATORS = {
    spec: _deferred(launcher.DEFAULT_EXECUTOR_OPERATORS[spec])
    for spec in (executable_spec_pb2.PythonClassExecutableSpec,
                 executable_spec_pb2.BeamExecutableSpec)}
