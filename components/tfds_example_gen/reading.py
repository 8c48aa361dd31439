"""How TfdsExampleGen reads one TFDS shard (a file instruction) into
serialized `tf.train.Example`s (converter.py makes them).

TFDS's `as_dataset` parses and decodes its records one example at a time,
even when asked for batches (it batches afterwards): on Fashion-MNIST's
60,000 training images that is 2.8 s, where parsing 1,024 records with one
`tf.io.parse_example` and decoding them as a batch takes 1.4 s
(docs/performance.md). So where it can, the executor reads a shard's
records itself and leaves the rest to TFDS: the feature specs are TFDS's
own (`ExampleParser` over `get_serialized_info()`), the decoding is each
feature connector's `decode_batch_example` (for an image, TFDS's
`decode_example` under `tf.map_fn`), and the instruction's skip and take
are applied to the records, so the values are the ones `as_dataset`
yields, record for record (tests/components/tfds_example_gen).

That direct read needs a TFRecord shard (`tfds.core.FileFormat.TFRECORD`)
and top-level features of fixed shape stored flat (a `Sequence`, a ragged
or a nested feature is not). Anything else is read through `as_dataset`:
in batches for whole shards of fixed-shape features, else an example at a
time (TFDS reads part of a shard only that way, and pads variable-length
features to the longest in a batch, which would write the padding into
every shorter record).
"""

import os
from typing import Any, Dict, Iterator, Mapping

import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_parser
from tensorflow_datasets.core import naming

from components.tfds_example_gen import converter

# Examples per batch read, decoded (in parallel) and converted in one go:
# batched, reading and converting is several times faster than per example
# (docs/performance.md).
BATCH = 1024


def serialized_examples(builder, instruction,
                        encodings: Mapping[str, converter.FeatureEncoding]
                        ) -> Iterator[bytes]:
    """The records of one shard, in the shard's order, as `tf.train.Example`
    bytes (converter.py)."""
    if reads_directly(builder, encodings):
        for batch in tfds.as_numpy(_direct(builder, instruction)):
            yield from converter.serialized_examples(batch, encodings)
        return
    shard = naming.FilenameInfo.from_str(os.path.basename(
        instruction.filename))
    reading = _as_dataset_arguments(instruction, encodings)
    records = builder.as_dataset(
        split=f"{shard.split}[{shard.shard_index}shard]", **reading)
    if instruction.skip > 0:
        records = records.skip(instruction.skip)
    if not instruction.takes_all:
        records = records.take(instruction.take)
    for values in tfds.as_numpy(records):
        if "batch_size" in reading:
            yield from converter.serialized_examples(values, encodings)
        else:
            yield converter.to_example(values, encodings).SerializeToString()


def reads_directly(builder,
                   encodings: Mapping[str, converter.FeatureEncoding]) -> bool:
    """Whether the executor reads the dataset's shards itself (see the
    module docstring): TFRecord shards, every feature of fixed shape and
    stored flat."""
    if builder.info.file_format != tfds.core.FileFormat.TFRECORD:
        return False
    serialized = builder.info.features.get_serialized_info()
    return _fixed_shapes(encodings) and all(
        isinstance(info, tfds.features.TensorInfo)
        and info.sequence_rank == 0 and None not in info.shape
        for info in serialized.values())


def _direct(builder, instruction) -> tf.data.Dataset:
    """One shard's records as decoded batches, read by TensorFlow."""
    features = builder.info.features
    serialized = features.get_serialized_info()
    specs = example_parser.ExampleParser(serialized).flat_feature_specs

    def decode(records):
        parsed = tf.io.parse_example(records, specs)
        # As TFDS's parser: stored as int64, float32 or bytes, cast back.
        return {name: features[name].decode_batch_example(
                    tf.cast(parsed[name], serialized[name].tf_dtype))
                for name in features.keys()}

    path = instruction.filename
    if not os.path.isabs(path) and "://" not in path:
        path = os.path.join(builder.data_dir, path)
    records = tf.data.TFRecordDataset(path)
    if instruction.skip > 0:
        records = records.skip(instruction.skip)
    if not instruction.takes_all:
        records = records.take(instruction.take)
    return records.batch(BATCH).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).prefetch(tf.data.AUTOTUNE)


def _as_dataset_arguments(instruction, encodings) -> Dict[str, Any]:
    """`as_dataset` arguments: batches, decoded in parallel, for a whole
    shard of fixed-shape features; otherwise an example at a time."""
    read_config = tfds.ReadConfig(
        num_parallel_calls_for_decode=tf.data.AUTOTUNE)
    whole_shard = instruction.skip == 0 and instruction.takes_all
    if whole_shard and _fixed_shapes(encodings):
        return {"read_config": read_config, "batch_size": BATCH}
    return {"read_config": read_config}


def _fixed_shapes(encodings: Mapping[str, converter.FeatureEncoding]
                  ) -> bool:
    return all(None not in e.shape for e in encodings.values())
