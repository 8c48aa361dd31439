"""Pusher: TFX's Pusher with an atomic, idempotent file-system push."""

from tfx.components.pusher.component import Pusher as TfxPusher
from tfx.dsl.components.base import executor_spec

from components.pusher import executor


class Pusher(TfxPusher):
    """Same inputs, outputs and id as TFX's Pusher (see executor.py)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
