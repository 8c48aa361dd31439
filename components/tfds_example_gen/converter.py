"""TFDS examples -> `tf.train.Example`, generic over TFDS feature types.

We do not use TFX's `dict_to_example`: it drops scalar zeros (label 0 would
vanish) and cannot take nested arrays such as images.

Images are stored as one raw uint8 bytes value (the shape lives in the schema),
not as encoded PNG and not as one int64 per pixel: raw bytes decode with one
vectorised `tf.io.decode_raw`, and gzip-compressed TFRecords of raw bytes are
smaller than int64 lists and about as small as PNG (docs/performance.md,
`benchmarks/image_encoding.py`); the records are written
uncompressed (records.py says why).
"""

import dataclasses
from typing import Dict, Iterator, Mapping, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

RAW = "raw"  # uint8 array packed into one bytes value
INT = "int"
FLOAT = "float"
BYTES = "bytes"


@dataclasses.dataclass(frozen=True)
class FeatureEncoding:
    """How one TFDS feature is written into a `tf.train.Example`."""

    kind: str
    shape: Tuple[int, ...]
    dtype: str


def encodings_for(features: tfds.features.FeaturesDict
                  ) -> Dict[str, FeatureEncoding]:
    """Chooses an encoding for every top-level feature of a TFDS dataset.

    Raises:
      ValueError: for a feature type or shape the converter cannot store,
        naming the feature.
    """
    encodings = {}
    for name, feature in features.items():
        shape = tuple(feature.shape)
        dtype = np.dtype(feature.np_dtype) if not isinstance(
            feature, tfds.features.Text) else np.dtype(object)
        if isinstance(feature, tfds.features.FeaturesDict):
            raise ValueError(
                f"feature {name!r} is a nested FeaturesDict; flatten it in "
                "the dataset or read a dataset without nested features.")
        if isinstance(feature, tfds.features.Image):
            if None in shape:
                raise ValueError(
                    f"image feature {name!r} has variable shape {shape}; "
                    "only fixed-size images can be stored as raw bytes.")
            kind = RAW
        elif isinstance(feature, tfds.features.Text) or dtype.kind in "OSU":
            kind = BYTES
        elif dtype.kind in "biu":
            kind = INT
        elif dtype.kind == "f":
            kind = FLOAT
        else:
            raise ValueError(
                f"feature {name!r} of type {type(feature).__name__} and "
                f"dtype {dtype} cannot be written to a tf.train.Example.")
        encodings[name] = FeatureEncoding(kind=kind, shape=shape,
                                          dtype=dtype.name)
    return encodings


def to_example(values: Mapping[str, np.ndarray],
               encodings: Mapping[str, FeatureEncoding]) -> tf.train.Example:
    """Converts one TFDS example (numpy values) to a `tf.train.Example`."""
    example = tf.train.Example()
    feature_map = example.features.feature
    for name, encoding in encodings.items():
        value = np.asarray(values[name])
        if encoding.kind == RAW:
            feature_map[name].bytes_list.value.append(
                value.astype(np.uint8).tobytes())
        elif encoding.kind == INT:
            feature_map[name].int64_list.value.extend(
                value.astype(np.int64).ravel().tolist())
        elif encoding.kind == FLOAT:
            feature_map[name].float_list.value.extend(
                value.astype(np.float32).ravel().tolist())
        else:
            feature_map[name].bytes_list.value.extend(
                v if isinstance(v, bytes) else str(v).encode("utf-8")
                for v in value.ravel().tolist())
    return example


def serialized_examples(batch: Mapping[str, np.ndarray],
                        encodings: Mapping[str, FeatureEncoding]
                        ) -> Iterator[bytes]:
    """Serialized `tf.train.Example`s of a batch of TFDS examples.

    The same records as `to_example` for each row, with the per-feature
    work (casting, flattening) done once per batch instead of per example.
    """
    size = len(next(iter(batch.values())))
    rows = {name: _rows(np.asarray(batch[name]), encoding, size)
            for name, encoding in encodings.items()}
    for i in range(size):
        example = tf.train.Example()
        feature_map = example.features.feature
        for name, encoding in encodings.items():
            value = rows[name][i]
            if encoding.kind == RAW:
                feature_map[name].bytes_list.value.append(value)
            elif encoding.kind == INT:
                feature_map[name].int64_list.value.extend(value)
            elif encoding.kind == FLOAT:
                feature_map[name].float_list.value.extend(value)
            else:
                feature_map[name].bytes_list.value.extend(value)
        yield example.SerializeToString()


def _rows(values: np.ndarray, encoding: FeatureEncoding, size: int) -> list:
    """One feature of a batch, each row as its `to_example` value list."""
    if encoding.kind == RAW:
        flat = values.astype(np.uint8).reshape(size, -1)
        return [row.tobytes() for row in flat]
    if encoding.kind == INT:
        return values.astype(np.int64).reshape(size, -1).tolist()
    if encoding.kind == FLOAT:
        return values.astype(np.float32).reshape(size, -1).tolist()
    return [[v if isinstance(v, bytes) else str(v).encode("utf-8")
             for v in row] for row in values.reshape(size, -1).tolist()]


def from_example(example: tf.train.Example,
                 encodings: Mapping[str, FeatureEncoding]
                 ) -> Dict[str, np.ndarray]:
    """The inverse of `to_example`: numpy values with their TFDS shapes."""
    values = {}
    for name, encoding in encodings.items():
        feature = example.features.feature[name]
        if encoding.kind == RAW:
            value = np.frombuffer(feature.bytes_list.value[0], np.uint8)
        elif encoding.kind == INT:
            value = np.array(feature.int64_list.value, np.int64)
        elif encoding.kind == FLOAT:
            value = np.array(feature.float_list.value, np.float32)
        else:
            value = np.array(list(feature.bytes_list.value), dtype=object)
        if encoding.kind != BYTES:
            value = value.astype(encoding.dtype)
        values[name] = value.reshape(encoding.shape)
    return values
