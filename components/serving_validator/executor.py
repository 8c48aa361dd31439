"""ServingValidator executor: artifacts in, the probe in a fresh process,
the verdict out (see component.py)."""

import json
import os
import subprocess
import tempfile
from typing import Any, Dict, List, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils
from tfx.utils import path_utils

from components import features
from components.evaluator import metrics as evaluator_metrics
from components.serving_validator import checks
from components.serving_validator import model_card
from components.serving_validator import probe
from components.serving_validator import properties
from components.serving_validator import standby
from components.serving_validator import warmup
from components.tfds_example_gen import properties as example_properties
from components.tfds_example_gen import records
from components.trainer import record as training_record

BATCH_SIZES = (1, 64)

# A model that takes longer than this to load and answer is refused.
PROBE_TIMEOUT_SECONDS = 600


def eval_examples(examples: types.Artifact, split: str, count: int
                  ) -> List[bytes]:
    """The first `count` serialized examples of a split."""
    return [record.numpy()
            for record in records.dataset(examples, split).take(count)]


def images_of(serialized: List[bytes],
              contract: features.FeatureContract) -> np.ndarray:
    """The raw uint8 images of serialized examples, as `serving_images`
    takes them.

    Raises:
      ValueError: an example's image is not `contract.image_bytes` bytes.
    """
    images = []
    for index, record in enumerate(serialized):
        example = tf.train.Example.FromString(record)
        values = example.features.feature[features.IMAGE_KEY].bytes_list.value
        if len(values) != 1 or len(values[0]) != contract.image_bytes:
            raise ValueError(
                f"example {index}'s {features.IMAGE_KEY!r} is not one raw "
                f"image of {contract.image_bytes} bytes (shape "
                f"{list(contract.image_shape)}, the schema's); check that "
                "the schema matches the data.")
        images.append(np.frombuffer(values[0], np.uint8).reshape(
            contract.image_shape))
    return np.stack(images)


class ProbeFailed(RuntimeError):
    """The checking process itself failed (killed, out of memory, timed
    out): the component fails and is retried; the model is not judged."""


def run_probe(model_dir: str, serialized: List[bytes], images: np.ndarray,
              repeats: int) -> dict:
    """The probe's result, from a fresh Python process (one started ahead
    of need, if the runner started one: see standby.py).

    Raises:
      ProbeFailed: the process did not finish its check. A verdict of
        "refused" is recorded and cached, so it is kept for the model's
        own faults (which the probe reports) and not used for these.
    """
    with tempfile.TemporaryDirectory() as folder:
        probe.write_requests(folder, serialized, images)
        output = os.path.join(folder, "probe.json")
        flags = ["--model", model_dir, "--requests", folder, "--output",
                 output, "--batch-sizes",
                 ",".join(str(min(s, len(serialized))) for s in BATCH_SIZES),
                 "--repeats", str(repeats)]
        process, started_early = standby.process()
        returncode, stderr = _ask(process, flags, model_dir)
        if started_early and not os.path.isfile(output):
            # The process that waited died (e.g. killed for memory beside
            # the Evaluator): the check is the fresh process's, not it.
            logging.warning("the serving check's early process ended "
                            "(exit code %s); starting another: %s",
                            returncode, stderr.strip()[-500:])
            started_early = False
            returncode, stderr = _ask(standby.start(), flags, model_dir)
        if returncode != 0 or not os.path.isfile(output):
            raise ProbeFailed(
                f"the serving check of {model_dir} ended with exit code "
                f"{returncode} before it could judge the model: "
                f"{stderr.strip()[-1500:]}")
        with open(output, encoding="utf-8") as f:
            return dict(json.load(f), started_early=started_early)


def _ask(process, flags: List[str], model_dir: str) -> Tuple[int, str]:
    """Sends a probe process its flags; (exit code, stderr) once it ends."""
    try:
        _, stderr = process.communicate(json.dumps(flags) + "\n",
                                        timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise ProbeFailed(
            f"the serving check of {model_dir} gave no answer within "
            f"{PROBE_TIMEOUT_SECONDS} s") from None
    except OSError as error:  # e.g. a broken pipe to a process that died
        process.kill()
        _, stderr = process.communicate()
        return process.returncode, f"{error}; {stderr}"
    return process.returncode, stderr


def record(blessing: types.Artifact, verdict: checks.Verdict,
           details: Dict[str, Any]) -> None:
    """The verdict on the artifact (properties, as TFX's InfraValidator
    marks it) and in its folder."""
    blessing.set_int_custom_property(properties.BLESSED,
                                     int(verdict.passed))
    blessing.set_string_custom_property(properties.REASON,
                                        "; ".join(verdict.reasons))
    blessing.set_string_custom_property(
        properties.LATENCY_MS, json.dumps(verdict.latency_ms,
                                          sort_keys=True))
    io_utils.write_string_file(
        os.path.join(blessing.uri, properties.RESULT_FILE),
        json.dumps(dict(details, **verdict.to_json()), indent=1))
    # The marker files TFX's InfraValidator writes.
    io_utils.write_string_file(os.path.join(
        blessing.uri, "INFRA_BLESSED" if verdict.passed
        else "INFRA_NOT_BLESSED"), "")


class Executor(base_executor.BaseExecutor):
    """Calls the candidate as TensorFlow Serving would; blesses it only if
    it answers right, and then holds it with its warm-up file."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        model_dir = path_utils.serving_model_path(
            model.uri, path_utils.is_old_model_artifact(model))
        evaluator_blessing = input_dict.get("model_blessing")
        if evaluator_blessing and not model_utils.is_model_blessed(
                evaluator_blessing[0]):
            record(blessing, checks.Verdict(False, [
                "not blessed by the Evaluator, so not validated for "
                "serving"], {}), {"model": model_dir})
            return
        schema = artifact_utils.get_single_uri(input_dict["schema"])
        contract = features.load_contract(
            io_utils.get_only_uri_in_dir(schema))
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        split = exec_properties["split"]
        serialized = eval_examples(examples, split, max(BATCH_SIZES))
        if not serialized:
            raise ValueError(f"the {split!r} split of {examples.uri} has no "
                             "examples to call the model with.")
        images = images_of(serialized, contract)
        sizes = [min(s, len(serialized)) for s in BATCH_SIZES]
        # What would be pushed, warm-up file included, is what is checked.
        stamped = path_utils.stamped_model_path(blessing.uri)
        io_utils.copy_dir(model_dir, stamped)
        warmup.write(stamped, warmup.prediction_logs(serialized, images,
                                                     sizes))
        seen = run_probe(stamped, serialized, images,
                         int(exec_properties["repeats"]))
        verdict = checks.judge(
            seen, contract.num_classes, len(serialized),
            class_names=example_properties.class_names(
                examples.get_string_custom_property(
                    example_properties.CLASS_NAMES)))
        logging.info("Serving validation of %s: %s", model_dir,
                     "passed" if verdict.passed else "; ".join(
                         verdict.reasons))
        record(blessing, verdict, {
            "model": model_dir, "examples": len(serialized),
            "load_seconds": seen.get("load_seconds"),
            "probe_started_early": seen["started_early"]})
        if not verdict.passed:
            io_utils.delete_dir(stamped)
            return
        card = self._card(input_dict, examples, contract, verdict)
        io_utils.write_string_file(os.path.join(
            stamped, model_card.MARKDOWN_FILE), model_card.markdown(card))
        io_utils.write_string_file(os.path.join(
            stamped, model_card.HTML_FILE), model_card.html(card))
        blessing.set_int_custom_property(properties.HAS_MODEL, 1)

    def _card(self, input_dict, examples: types.Artifact,
              contract: features.FeatureContract,
              verdict: checks.Verdict) -> dict:
        """The model card's facts, from the artifacts the run recorded."""
        names = example_properties.class_names(
            examples.get_string_custom_property(
                example_properties.CLASS_NAMES))
        evaluation = input_dict.get("evaluation")
        metrics = (evaluator_metrics.evaluation_metrics(
            evaluation[0].mlmd_artifact, names) if evaluation else {})
        model_run = input_dict.get("model_run")
        training = {}
        path = training_record.path(model_run[0].uri) if model_run else None
        if path and tf.io.gfile.exists(path):
            training = json.loads(io_utils.read_string_file(path))
        context = self._context
        return model_card.facts(
            pipeline=(context.pipeline_info.id if context
                      and context.pipeline_info else "-"),
            run_id=context.pipeline_run_id if context else None,
            dataset={
                "name": examples.get_string_custom_property("tfds_name"),
                "config": examples.get_string_custom_property("tfds_config"),
                "version": examples.get_string_custom_property(
                    "tfds_version"),
                "fingerprint": examples.get_string_custom_property(
                    "data_fingerprint"),
                "num_examples": (examples.get_json_value_custom_property(
                    example_properties.NUM_EXAMPLES) or {}),
                "class_names": names},
            training=training, metrics=metrics, verdict=verdict.to_json(),
            image_shape=contract.image_shape,
            num_classes=contract.num_classes)
