"""Trainer executor that trains in a fresh process when it must.

Splitting the CPU into N logical devices (N MirroredStrategy replicas) only
works before TensorFlow initialises in a process. The local runners run every
component in one process, so by the time the Trainer runs, Transform has
already initialised TensorFlow. With `cpu_replicas` > 1 this executor runs
TFX's own `GenericExecutor` in a fresh interpreter
(`python -m components.trainer.fresh_process REQUEST`, started and waited
for by workers.py, as are the N of `workers` > 1);
otherwise in place. A subprocess rather than `multiprocessing`: spawning
starts multiprocessing's resource tracker, a process that would outlive
the command that ran the pipeline.
"""

import dataclasses
import json
import os
import tempfile
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import storage
from components.tfds_example_gen import properties
from components.trainer import settings as trainer_settings
from components.trainer import tfjob
from components.trainer import workers


class Executor(trainer_executor.GenericExecutor):
    """GenericExecutor, in a fresh process when CPU replicas are asked for."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.CUSTOM_CONFIG_KEY
        custom_config = with_example_counts(
            json.loads(exec_properties.get(key) or "null"), input_dict,
            exec_properties)
        exec_properties = {**exec_properties,
                           key: json.dumps(custom_config)}
        settings = trainer_settings.read(custom_config)
        if settings.cpu_replicas <= 1 and settings.workers <= 1:
            super().Do(input_dict, output_dict, exec_properties)
            return
        request = {
            "inputs": artifact_utils.jsonify_artifact_dict(input_dict),
            "outputs": artifact_utils.jsonify_artifact_dict(output_dict),
            "exec_properties": exec_properties}
        pod = (custom_config or {}).get(tfjob.CONFIG_KEY)
        if pod and settings.workers > 1:
            _train_in_tfjob(request, pod, settings.workers, output_dict)
            return
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "request.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(request, f)
            workers.run(path, settings.workers)


def _train_in_tfjob(request: Dict[str, Any], config: Dict[str, Any],
                    count: int, output_dict) -> None:
    """Trains in a TFJob of `count` replicas (tfjob.py) and checks that the
    chief left the model where the Trainer publishes it."""
    [model] = output_dict[standard_component_specs.MODEL_KEY]
    name = tfjob.job_name()
    uri = tfjob.request_uri(model.uri, name)
    tfjob.write_request(uri, request)
    try:
        tfjob.run(tfjob.manifest(
            name, config["pod"], count, uri, config["deadline_seconds"],
            labels=config.get("labels")),
            wait_seconds=config["deadline_seconds"] + 300)
    finally:
        tf.io.gfile.remove(uri)
    serving = os.path.join(model.uri, "Format-Serving")
    if not tf.io.gfile.exists(os.path.join(serving, "saved_model.pb")):
        raise tfjob.TFJobFailed(
            f"TFJob {name} succeeded but its chief left no model at "
            f"{serving}: does every replica mount the pipeline root?")


def with_example_counts(custom_config: Optional[Dict[str, Any]],
                        input_dict: Dict[str, List[types.Artifact]],
                        exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """`custom_config` with the settings' `example_counts` from what
    ExampleGen recorded: known sizes spare run_fn a counting pass over the
    data. Raises `SettingsError` if the settings do not parse."""
    settings = trainer_settings.read(custom_config)
    counts = example_counts(input_dict, exec_properties) or None
    return trainer_settings.write(
        dataclasses.replace(settings, example_counts=counts), custom_config)


def example_counts(input_dict: Dict[str, List[types.Artifact]],
                    exec_properties: Dict[str, Any]) -> Dict[str, int]:
    """`train` and `eval` -> examples in the splits the Trainer reads, from
    what the ExampleGen recorded; empty when it recorded nothing."""
    examples = input_dict.get(standard_component_specs.EXAMPLES_KEY) or []
    if (len(examples) != 1
            or not examples[0].has_custom_property(properties.NUM_EXAMPLES)):
        return {}
    recorded = examples[0].get_json_value_custom_property(
        properties.NUM_EXAMPLES)
    if not isinstance(recorded, dict):
        return {}
    counts = {}
    for role, key in (("train", standard_component_specs.TRAIN_ARGS_KEY),
                      ("eval", standard_component_specs.EVAL_ARGS_KEY)):
        args = json.loads(exec_properties.get(key) or "{}")
        splits = args.get("splits") or [role]
        if all(isinstance(recorded.get(s), (int, float)) for s in splits):
            counts[role] = int(sum(recorded[s] for s in splits))
    return counts


def train(request_path: str) -> None:
    """Trains as the request that `Executor.Do` wrote says, then ends."""
    storage.enable([request_path])
    with tf.io.gfile.GFile(request_path) as f:
        request = json.load(f)
    input_dict = artifact_utils.parse_artifact_dict(request["inputs"])
    output_dict = artifact_utils.parse_artifact_dict(request["outputs"])
    storage.enable([a.uri for artifacts in (*input_dict.values(),
                                            *output_dict.values())
                    for a in artifacts])
    # GenericExecutor uses nothing from the executor context.
    trainer_executor.GenericExecutor().Do(input_dict, output_dict,
                                          request["exec_properties"])
    storage.end_process(0)

