"""StrictExampleValidator: TFX's ExampleValidator that fails on anomalies."""

from tfx.components.example_validator.component import ExampleValidator
from tfx.dsl.components.base import executor_spec

from components.example_validator import executor


class StrictExampleValidator(ExampleValidator):
    """Same inputs, outputs and id as ExampleValidator; raises on anomalies
    so the run stops before evaluation (see executor.py)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
