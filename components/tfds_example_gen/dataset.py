"""Finding, preparing and fingerprinting a TFDS dataset.

Pure helpers around TFDS's own builder API, shared by the component's driver
(which fingerprints the data so caching notices changed data), its executor
and the CLI (which checks a dataset before any component runs).
"""

import difflib
import hashlib
import os
from typing import List, Mapping, Optional

import tensorflow as tf
import tensorflow_datasets as tfds

from components import features
from components.tfds_example_gen.errors import DatasetError  # pylint: disable=unused-import


def get_builder(tfds_name: str, data_dir: Optional[str] = None):
    """Returns the TFDS builder for `name[/config][:version]`.

    Raises:
      DatasetError: for an unknown name (with close matches) or version.
    """
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        name = tfds_name.split("/")[0].split(":")[0]
        close = difflib.get_close_matches(name, tfds.list_builders(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else (
            " `python -c 'import tensorflow_datasets as tfds; "
            "print(tfds.list_builders())'` lists them.")
        raise DatasetError(
            f"TFDS has no dataset named {name!r}.{hint}") from None
    except (AssertionError, ValueError) as error:
        raise DatasetError(
            f"TFDS cannot load {tfds_name!r}: {error}") from error


def prepare(builder, manual_dir: Optional[str] = None) -> None:
    """Downloads (or reads from `manual_dir`) and prepares the dataset.

    A no-op when the dataset is already prepared in the builder's data dir.

    Raises:
      DatasetError: when the dataset cannot be prepared, saying how to
        prepare it offline.
    """
    if builder.is_prepared():
        return
    try:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=manual_dir))
    except Exception as error:  # TFDS raises many kinds; all mean the same.
        if manual_dir:
            advice = (f"Check that {manual_dir!r} holds the dataset's "
                      "official source files, unchanged, as the dataset's "
                      "documentation names them (a file that is damaged or "
                      "of another version fails TFDS's checksums), or pass "
                      "--tfds-data-dir pointing at a data dir where the "
                      "dataset is already prepared.")
        else:
            advice = ("Without network access, put the dataset's source "
                      "files in a folder and pass it with --tfds-manual-dir,"
                      " or pass --tfds-data-dir pointing at a data dir where "
                      "the dataset is already prepared.")
        source = (f"from manual dir {manual_dir!r}" if manual_dir
                  else "by downloading it")
        raise DatasetError(
            f"could not prepare TFDS dataset {builder.info.full_name!r} "
            f"{source}: {type(error).__name__}: {str(error).strip()}. "
            f"{advice}") from error


def class_names(builder) -> Optional[List[str]]:
    """The names of the label's classes, if the label is a ClassLabel
    with names (TFDS names a ClassLabel made from a count `0`, `1`, ...,
    which say nothing the index does not)."""
    described = builder.info.features
    label = (described[features.LABEL_KEY]
             if features.LABEL_KEY in described.keys() else None)
    if not isinstance(label, tfds.features.ClassLabel):
        return None
    names = list(label.names)
    return None if names == [str(i) for i in range(len(names))] else names


def check_splits(builder, splits: Mapping[str, str]) -> None:
    """Raises DatasetError if a TFDS split (or slice) does not exist or
    holds no examples."""
    for pipeline_split, tfds_split in splits.items():
        try:
            examples = builder.info.splits[tfds_split].num_examples
        except (KeyError, ValueError) as error:
            raise DatasetError(
                f"{builder.info.full_name!r} has no split {tfds_split!r} for "
                f"the pipeline's {pipeline_split!r} split; it has "
                f"{sorted(builder.info.splits.keys())}.") from error
        if not examples:
            raise DatasetError(
                f"{tfds_split!r} of {builder.info.full_name!r} holds no "
                f"examples, so the pipeline's {pipeline_split!r} split "
                "would be empty; take a split or slice that has some.")


def _file_instructions(builder, tfds_split: str):
    """(path, instruction) of each prepared file a split reads."""
    for instruction in builder.info.splits[tfds_split].file_instructions:
        path = instruction.filename
        if not os.path.isabs(path) and "://" not in path:
            path = os.path.join(builder.data_dir, path)
        yield path, instruction


def data_files(builder, splits: Mapping[str, str]) -> List[str]:
    """The prepared files the pipeline's splits read."""
    return sorted({path for tfds_split in splits.values()
                   for path, _ in _file_instructions(builder, tfds_split)})


def fingerprint(builder, splits: Mapping[str, str]) -> str:
    """A content fingerprint of the data the pipeline reads.

    Covers the dataset's name, config and version, the split mapping, and the
    bytes of every prepared file those splits read, so any change to the data
    changes it.
    """
    digest = hashlib.sha256()
    digest.update(builder.info.full_name.encode())
    for pipeline_split, tfds_split in sorted(splits.items()):
        digest.update(f"|{pipeline_split}={tfds_split}".encode())
        for path, instruction in _file_instructions(builder, tfds_split):
            digest.update(f"|{os.path.basename(path)}:{instruction.skip}:"
                          f"{instruction.take}".encode())
            with tf.io.gfile.GFile(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()
