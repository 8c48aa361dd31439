"""Where an Examples artifact's records are, and how they are stored.

TfdsExampleGen writes uncompressed TFRecords. Gzip (TFX's default) makes
Fashion-MNIST's records 1.9 times smaller (449 instead of 838 bytes an
example) but writes 16 times slower: 1.9 s of zlib for the 60,000 training
examples against 0.12 s, and reading back takes 14 % longer
(`benchmarks/image_encoding.py --examples 60000`, README). Disk is cheaper
than the minutes of a run. Readers go by the file name, as TFX's own do
(tfx_bsl, Beam), so gzipped records written by an earlier version still read.
"""

import os
from typing import List, Tuple

import tensorflow as tf
from tfx import types
from tfx.types import artifact_utils

# Beam's WriteToTFRecord names each file `<prefix>-SSSSS-of-NNNNN<suffix>`.
FILE_PREFIX = "data_tfrecord"
SUFFIX = ""
_GZIP_SUFFIX = ".gz"


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
