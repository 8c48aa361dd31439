"""Pusher executor that publishes a version directory atomically.

TFX's Pusher copies the model straight into `<base>/<version>`; a crash
mid-copy leaves a partial version directory that TensorFlow Serving would
try to load. Here the model is copied into a hidden staging directory (TF
Serving only considers all-digit directory names) and renamed into place,
which is atomic on a local or POSIX file system. On object stores such as
GCS a rename is a copy of every object (see serving_dir.py).

With serving validation upstream (components/serving_validator), what is
published is its validated copy of the model, which holds TensorFlow
Serving's warm-up file. Each version records which trained model it came
from and the sha256 of
every file (files beside it, which TF Serving ignores; see
serving_dir.py), and a model that is already the newest version is not
pushed again: where the baseline comes from TFX's
LatestBlessedModelStrategy (as on Vertex), a model blessed a second time
is not served twice. (On Vertex every run also trains again, ExampleGen
being uncached there: a model trained again is another model, judged
and pushed as one; docs/vertex.md.)
"""

from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import path_utils
from tfx.utils import proto_utils

from components.pusher import serving_dir


def validated_copy(input_dict: Dict[str, List[types.Artifact]]
                   ) -> Optional[str]:
    """The copy of the model that serving validation blessed, with its
    warm-up file, if the InfraBlessing holds one (TFX's `has_model`)."""
    blessings = input_dict.get(standard_component_specs.INFRA_BLESSING_KEY)
    if blessings and blessings[0].get_int_custom_property("has_model"):
        return path_utils.stamped_model_path(blessings[0].uri)
    return None


class Executor(pusher_executor.Executor):
    """TFX's Pusher with an atomic file-system push."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
            destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError(
                "only file-system push destinations are supported, got "
                f"{destination.WhichOneof('destination')!r}.")
        model_path = self.GetModelPath(input_dict)
        base = destination.filesystem.base_directory
        served_version, served_source = serving_dir.newest(base)
        if served_source == model_path:
            logging.info("Model %s is already served as version %s; not "
                         "pushed again.", model_path, served_version)
            self._MarkNotPushed(model_push)
            return
        if model_path in serving_dir.replaced_sources(base):
            # A person rolled it back; a re-run must not undo that.
            logging.warning("Model %s was taken out of service by a "
                            "rollback; not pushed again (`python -m "
                            "pipeline rollback --to VERSION` serves it).",
                            model_path)
            self._MarkNotPushed(model_push)
            return
        validated = validated_copy(input_dict)
        if validated is None and input_dict.get(
                standard_component_specs.INFRA_BLESSING_KEY):
            raise RuntimeError(
                "the serving validation blessed the model but holds no "
                "copy of it to push (no `has_model`); nothing was pushed.")
        validated = validated or model_path
        version, serving_path = serving_dir.publish(
            validated, base, model_source=model_path)
        logging.info("Model version %s published at %s from %s.", version,
                     serving_path, validated)
        io_utils.copy_dir(validated, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=version)
