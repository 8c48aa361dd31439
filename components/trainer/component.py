"""Trainer: TFX's Trainer with the executor that can split the CPU."""

from tfx.components.trainer.component import Trainer as TfxTrainer
from tfx.dsl.components.base import executor_spec

from components.trainer import executor


class Trainer(TfxTrainer):
    """Same inputs, outputs, id and `run_fn` contract as TFX's Trainer; runs
    `run_fn` in a fresh process when the CPU is split into several
    MirroredStrategy replicas (see executor.py)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
