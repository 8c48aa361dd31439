"""TfdsExampleGen: any TensorFlow Datasets dataset as TFX Examples."""

import json
from typing import Mapping, Optional

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_driver
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter

from components.tfds_example_gen import driver
from components.tfds_example_gen import executor
from components.tfds_example_gen import properties


class TfdsExampleGenSpec(types.ComponentSpec):
    """Parameters: which dataset, which splits, where TFDS keeps it."""

    PARAMETERS = {
        properties.DATASET_PARAMETER: ExecutionParameter(type=str),
        properties.SPLITS_PARAMETER: ExecutionParameter(type=str),
        properties.DATA_DIR_PARAMETER: ExecutionParameter(type=str,
                                                          optional=True),
        "manual_dir": ExecutionParameter(type=str, optional=True),
        # Filled in by the driver at run time; part of the cache key.
        driver.FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {}
    OUTPUTS = {
        executor.EXAMPLES_KEY: ChannelParameter(
            type=standard_artifacts.Examples),
    }


class TfdsExampleGen(base_component.BaseComponent):
    """Reads a TFDS dataset and emits its splits as `tf.train.Example`s.

    The output Examples artifact carries `tfds_name`, `tfds_version`,
    `tfds_config` and `data_fingerprint` custom properties, so lineage shows
    exactly which data a model was trained on.
    """

    SPEC_CLASS = TfdsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.TfdsDriver

    def __init__(self, dataset: str, splits: Mapping[str, str],
                 data_dir: Optional[str] = None,
                 manual_dir: Optional[str] = None,
                 fingerprint_driver: bool = True):
        """Declares the component.

        Args:
          dataset: TFDS name, `name[/config][:version]`.
          splits: pipeline split name (e.g. `train`, `eval`) -> TFDS split
            (slices allowed, e.g. `train[:500]`).
          data_dir: TFDS data dir; None for TFDS's default.
          manual_dir: folder with the dataset's source files, for offline
            preparation.
          fingerprint_driver: run `driver.TfdsDriver`, which puts the
            data's fingerprint in the cache key. Off for orchestrators that
            run no custom drivers (Vertex), which must then never take
            this node from the cache (see `pipeline/factory.py`).

        Raises:
          ValueError: if `splits` is empty or names a split twice.
        """
        if not splits or not all(splits.values()):
            raise ValueError(
                f"splits must map pipeline splits to TFDS splits, got "
                f"{dict(splits)!r}.")
        super().__init__(spec=TfdsExampleGenSpec(
            dataset=dataset,
            splits=json.dumps(dict(splits), sort_keys=True),
            data_dir=data_dir,
            manual_dir=manual_dir,
            examples=types.Channel(type=standard_artifacts.Examples)))
        if not fingerprint_driver:
            self.driver_class = base_driver.BaseDriver

    @property
    def fingerprints_data(self) -> bool:
        """Whether its driver puts the data's fingerprint in its cache key;
        if not, it must never be taken from the cache."""
        return self.driver_class is driver.TfdsDriver
