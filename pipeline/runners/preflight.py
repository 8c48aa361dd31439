"""Checks before any component runs: the object store answers, the dataset
exists, can be prepared (offline too, from a manual dir), has the splits
asked for, and matches the committed schema. A problem here is one clear
message, not a failed run."""

import os

from components import features
from components import storage
from components.tfds_example_gen import dataset as tfds_dataset
from pipeline_config import PipelineConfig


def check_storage(config: PipelineConfig) -> None:
    """The `s3://` locations of the run answer (endpoint, credentials,
    bucket), and TensorFlow can then read and write them in this process.

    Raises:
      storage.StorageError: which location, and what is wrong with it.
    """
    # The serving dir lies under the pipeline root.
    locations = [config.pipeline_root, config.dataset.data_dir]
    storage.check(locations)
    storage.enable(locations)


def check_dataset(config: PipelineConfig):
    """Finds, prepares and checks the dataset before any component runs.

    Returns:
      The TFDS builder, prepared.

    Raises:
      tfds_dataset.DatasetError: unknown dataset, not preparable offline,
        unknown split, or data that does not match the committed schema.
    """
    builder = tfds_dataset.get_builder(config.dataset.tfds_name,
                                       config.dataset.data_dir)
    if os.path.isdir(config.schema_file):
        raise tfds_dataset.DatasetError(
            f"schema {config.schema_file!r} is a directory; pass the "
            "schema.pbtxt file in it with --schema.")
    if not os.path.isfile(config.schema_file):
        raise tfds_dataset.DatasetError(
            f"no schema for dataset {config.dataset.name!r} at "
            f"{config.schema_file!r}: write a first one with `python -m "
            f"pipeline infer-schema --dataset {config.dataset.name}`, review "
            "and commit it, or pass --schema.")
    try:
        contract = features.load_contract(config.schema_file)
    except features.SchemaError as error:
        raise tfds_dataset.DatasetError(str(error)) from None
    info_features = builder.info.features
    for key in (features.IMAGE_KEY, features.LABEL_KEY):
        if key not in info_features:
            raise tfds_dataset.DatasetError(
                f"dataset {builder.info.full_name!r} has no {key!r} feature "
                f"(it has {sorted(info_features.keys())}); the pipeline "
                "trains image classifiers on 'image' and 'label'.")
    shape = tuple(info_features[features.IMAGE_KEY].shape)
    if shape != contract.image_shape:
        raise tfds_dataset.DatasetError(
            f"dataset {builder.info.full_name!r} has images of shape {shape}"
            f" but the schema {config.schema_file!r} says "
            f"{contract.image_shape}; pass the dataset's own schema with "
            "--schema.")
    tfds_dataset.prepare(builder, config.dataset.manual_dir)
    tfds_dataset.check_splits(builder, config.dataset.splits)
    return builder
