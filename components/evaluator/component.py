"""Evaluator: TFX's Evaluator, recording its headline metrics in ML
Metadata."""

from tfx.components.evaluator.component import Evaluator as TfxEvaluator
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor


class Evaluator(TfxEvaluator):
    """Same inputs, outputs, id and gate as TFX's Evaluator; its evaluation
    artifact also carries accuracy, example count and per-class accuracy
    (see executor.py)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
