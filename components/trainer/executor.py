"""Trainer executor that trains in a fresh process when it must.

Splitting the CPU into N logical devices (N MirroredStrategy replicas) only
works before TensorFlow initialises in a process. The local runners run every
component in one process, so by the time the Trainer runs, Transform has
already initialised TensorFlow. With `cpu_replicas` > 1 this executor runs
TFX's own `GenericExecutor` in a newly spawned process; otherwise in place.
"""

import json
import multiprocessing
from typing import Any, Dict, List

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils


class Executor(trainer_executor.GenericExecutor):
    """GenericExecutor, in a fresh process when CPU replicas are asked for."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        custom_config = json.loads(exec_properties.get("custom_config")
                                   or "{}")
        if custom_config.get("cpu_replicas", 1) <= 1:
            super().Do(input_dict, output_dict, exec_properties)
            return
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_train_in_child,
            args=(artifact_utils.jsonify_artifact_dict(input_dict),
                  artifact_utils.jsonify_artifact_dict(output_dict),
                  exec_properties))
        process.start()
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(
                f"training process failed with exit code {process.exitcode};"
                " its log is above.")


def _train_in_child(inputs: Dict[str, str], outputs: Dict[str, str],
                    exec_properties: Dict[str, Any]) -> None:
    # GenericExecutor uses nothing from the executor context.
    trainer_executor.GenericExecutor().Do(artifact_utils.parse_artifact_dict(inputs),
                artifact_utils.parse_artifact_dict(outputs), exec_properties)
