"""Pusher executor that publishes a version directory atomically.

TFX's Pusher copies the model straight into `<base>/<version>`; a crash
mid-copy leaves a partial version directory that TensorFlow Serving would
try to load. Here the model is copied into a hidden staging directory (TF
Serving only considers all-digit directory names) and renamed into place,
which is atomic on a local or POSIX file system. On object stores such as
GCS a rename is a copy, so there the guarantee is only as strong as TFX's
(saved_model.pb written last).

Each version records which trained model it came from (a `.source-<version>`
file beside it, which TF Serving ignores), and a model that is already the
newest version is not pushed again. Locally the baseline resolver already
keeps a cached re-run from reaching the Pusher with new inputs; on Vertex,
whose resolver is TFX's LatestBlessedModelStrategy, this is what stops a
re-run on unchanged data from pushing the same model as a new version.
"""

import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

STAGING_PREFIX = ".incomplete-"
SOURCE_PREFIX = ".source-"


def newest(base_dir: str) -> Tuple[Optional[str], Optional[str]]:
    """(newest version, the model it was pushed from), or Nones."""
    if not fileio.exists(base_dir):
        return None, None
    versions = [n.rstrip("/") for n in fileio.listdir(base_dir)]
    versions = [n for n in versions if n.isdigit()]
    if not versions:
        return None, None
    version = max(versions, key=int)
    source = os.path.join(base_dir, SOURCE_PREFIX + version)
    if not fileio.exists(source):
        return version, None
    return version, io_utils.read_string_file(source).strip()


def publish(model_dir: str, base_dir: str,
            clock: Callable[[], float] = time.time) -> Tuple[str, str]:
    """Copies `model_dir` to a new version under `base_dir`, atomically.

    The version is the current Unix time, or one more than the newest
    existing version if that is later, so versions only grow. The version's
    `.source-<version>` file names `model_dir`.

    Returns:
      (version, path of the new version directory).
    """
    fileio.makedirs(base_dir)
    existing = []
    for name in fileio.listdir(base_dir):
        name = name.rstrip("/")
        if name.startswith(STAGING_PREFIX):
            # Left by a push that crashed; never loaded by a model server.
            fileio.rmtree(os.path.join(base_dir, name))
        elif name.isdigit():
            existing.append(int(name))
    version = str(max(int(clock()), max(existing, default=0) + 1))
    staging = os.path.join(base_dir, STAGING_PREFIX + version)
    final = os.path.join(base_dir, version)
    io_utils.copy_dir(model_dir, staging)
    io_utils.write_string_file(
        os.path.join(base_dir, SOURCE_PREFIX + version), model_dir)
    fileio.rename(staging, final)
    return version, final


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
        served_version, served_source = newest(
            destination.filesystem.base_directory)
        if served_source == model_path:
            logging.info("Model %s is already served as version %s; not "
                         "pushed again.", model_path, served_version)
            self._MarkNotPushed(model_push)
            return
        version, serving_path = publish(
            model_path, destination.filesystem.base_directory)
        logging.info("Model version %s published at %s.", version,
                     serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=version)
