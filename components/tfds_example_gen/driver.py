"""Driver: prepares the dataset and fingerprints it before the cache check.

The launcher runs a custom driver before it looks for a cached execution, and
the exec properties the driver returns are part of the cache key. Putting the
data fingerprint there makes a re-run with unchanged data a cache hit, and a
run over changed data (a new TFDS version, new examples) a cache miss.

Fingerprinting reads every byte of the data with TensorFlow. When an earlier
execution of this node recorded the files it read (`manifest`) and they
pass rsync's quick check (same files, sizes and modification times, the
same TFDS release, no other version prepared beside them), the driver takes
the fingerprint recorded with them instead, and imports neither TFDS nor
TensorFlow: a re-run on unchanged data costs no data read. The scheduler's
"no new data" check (`pipeline/metadata/runs.unchanged_since`) trusts the
same test.
"""

import json
from typing import Mapping, Optional

from tfx.dsl.compiler import constants
from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import base_driver as ir_base_driver
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.orchestration import data_types_utils
from tfx.types import standard_artifacts

from components.tfds_example_gen import manifest
from components.tfds_example_gen import properties

FINGERPRINT_KEY = "data_fingerprint"


class TfdsDriver(base_driver.BaseDriver, ir_base_driver.BaseDriver):
    """Sets the `data_fingerprint` exec property from the prepared data."""

    def __init__(self, metadata_handle):
        base_driver.BaseDriver.__init__(self, metadata_handle)
        ir_base_driver.BaseDriver.__init__(self, metadata_handle)

    def run(self, execution_info: data_types.ExecutionInfo
            ) -> driver_output_pb2.DriverOutput:
        props = execution_info.exec_properties
        splits = json.loads(props[properties.SPLITS_PARAMETER])
        data_dir = props.get(properties.DATA_DIR_PARAMETER) or None
        fingerprint = self._recorded_fingerprint(
            execution_info, props[properties.DATASET_PARAMETER], data_dir,
            splits)
        if fingerprint is None:
            # TFDS and TensorFlow only when the data must be read.
            from components.tfds_example_gen import dataset  # pylint: disable=import-outside-toplevel
            builder = dataset.get_builder(
                props[properties.DATASET_PARAMETER], data_dir)
            dataset.prepare(builder, props.get("manual_dir") or None)
            dataset.check_splits(builder, splits)
            fingerprint = dataset.fingerprint(builder, splits)
        result = driver_output_pb2.DriverOutput()
        data_types_utils.set_metadata_value(
            result.exec_properties[FINGERPRINT_KEY], fingerprint)
        return result

    def _recorded_fingerprint(self, execution_info: data_types.ExecutionInfo,
                              tfds_name: str, data_dir: Optional[str],
                              splits: Mapping[str, str]) -> Optional[str]:
        """The fingerprint this node recorded with the newest Examples whose
        files are unchanged (see the module docstring), or None."""
        name, config, version = manifest.split_name(tfds_name)
        # The launcher hands drivers its connection closed, and opens it
        # again after them.
        with self._metadata_handle as handle:
            # Named as TFX's compiler_utils.node_context_name names it.
            context = handle.store.get_context_by_type_and_name(
                constants.NODE_CONTEXT_TYPE_NAME,
                f"{execution_info.pipeline_info.id}."
                f"{execution_info.pipeline_node.node_info.id}")
            if context is None:
                return None
            examples = [
                a for a in handle.store.get_artifacts_by_context(context.id)
                if a.type == standard_artifacts.Examples.TYPE_NAME]
        for artifact in sorted(examples, key=lambda a: a.id, reverse=True):
            recorded = artifact.custom_properties
            if manifest.PROPERTY not in recorded \
                    or FINGERPRINT_KEY not in recorded:
                continue
            if manifest.unchanged(
                    recorded[manifest.PROPERTY].string_value,
                    data_dir=data_dir, name=name, config=config,
                    version=version, splits=splits):
                return recorded[FINGERPRINT_KEY].string_value
        return None
