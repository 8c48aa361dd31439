"""Where an Examples artifact's records are, and how they are stored.

TfdsExampleGen writes uncompressed TFRecords. Gzip (TFX's default) makes
image records about half the size but writes many times slower and reads
back slower too (`benchmarks/image_encoding.py`, docs/performance.md).
Disk is cheaper than the minutes of a run. Readers go by the file name, as TFX's own do
(tfx_bsl, Beam), so gzipped records written by an earlier version still read.
"""

import os
import uuid
from typing import List, Tuple

import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

# Each split's files are `<prefix>-SSSSS-of-NNNNN`, one per TFDS shard.
FILE_PREFIX = "data_tfrecord"
_GZIP_SUFFIX = ".gz"


def shard_path(split_uri: str, index: int, count: int) -> str:
    """Where file `index` of a split's `count` files goes."""
    return os.path.join(split_uri,
                        f"{FILE_PREFIX}-{index:05d}-of-{count:05d}")


def write_shard(path: str, serialized) -> int:
    """Writes serialized records to `path` as written records are stored
    (uncompressed), whole or not at all: under a name of its own first,
    then renamed, so that a retried or a concurrent attempt at the same
    file replaces it whole. Returns how many were written."""
    partial = os.path.join(os.path.dirname(path),
                           f".{os.path.basename(path)}-{uuid.uuid4().hex}")
    written = 0
    try:
        with tf.io.TFRecordWriter(partial) as writer:
            for record in serialized:
                writer.write(record)
                written += 1
        tf.io.gfile.rename(partial, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(partial):
            tf.io.gfile.remove(partial)
    return written


def split_files(examples: types.Artifact, split: str
                ) -> Tuple[List[str], str]:
    """A split's record files, sorted, and their compression as
    `tf.data.TFRecordDataset` takes it ("" or "GZIP")."""
    uri = artifact_utils.get_split_uri([examples], split)
    files = sorted(tf.io.gfile.glob(os.path.join(uri, "*")))
    gzipped = {f.endswith(_GZIP_SUFFIX) for f in files}
    if len(gzipped) > 1:
        raise ValueError(f"{uri} holds gzipped and uncompressed record "
                         "files; an Examples split is written one way.")
    return files, "GZIP" if gzipped == {True} else ""


def dataset(examples: types.Artifact, split: str) -> tf.data.Dataset:
    """A split's serialized examples, in file order."""
    files, compression = split_files(examples, split)
    return tf.data.TFRecordDataset(files, compression_type=compression)
