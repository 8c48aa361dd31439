"""Executor operators that import the executor only when it runs."""

import sys

import pytest
from tfx.proto.orchestration import executable_spec_pb2

from pipeline.runners import executor_operators

_MISSING = "tests.pipeline.runners.no_such_module.Executor"


@pytest.mark.parametrize("spec", [
    executable_spec_pb2.PythonClassExecutableSpec(class_path=_MISSING),
    executable_spec_pb2.BeamExecutableSpec(
        python_executor_spec=executable_spec_pb2.PythonClassExecutableSpec(
            class_path=_MISSING))])
def test_the_executor_is_imported_only_when_it_runs(spec):
    operator = executor_operators.OPERATORS[type(spec)](spec)
    assert operator.with_execution_watcher("localhost:1") is operator
    assert "tests.pipeline.runners.no_such_module" not in sys.modules
    with pytest.raises(ImportError, match="no_such_module"):
        operator.run_executor(None)
