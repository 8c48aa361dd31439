"""How to store images in tf.Examples: raw bytes vs PNG vs int64 per pixel,
and raw bytes gzipped or not.

Writes the same Fashion-MNIST examples each way and prints bytes on disk,
write throughput (serialized records to file) and read-and-decode
throughput.

  .venv/bin/python benchmarks/image_encoding.py --tfds-data-dir DIR
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position
import tensorflow_datasets as tfds  # pylint: disable=wrong-import-position


def _examples(images, labels, kind):
    for image, label in zip(images, labels):
        feature = {"label": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[int(label)]))}
        if kind == "raw":
            feature["image"] = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[image.tobytes()]))
        elif kind == "png":
            feature["image"] = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[tf.io.encode_png(image).numpy()]))
        else:
            feature["image"] = tf.train.Feature(int64_list=tf.train.Int64List(
                value=image.ravel().tolist()))
        yield tf.train.Example(features=tf.train.Features(
            feature=feature)).SerializeToString()


def _decode_fn(kind, shape):
    size = int(np.prod(shape))
    if kind == "raw":
        spec = {"image": tf.io.FixedLenFeature([], tf.string)}
        return spec, lambda f: tf.reshape(tf.io.decode_raw(
            f["image"], tf.uint8, fixed_length=size), [-1, *shape])
    if kind == "png":
        spec = {"image": tf.io.FixedLenFeature([], tf.string)}
        return spec, lambda f: tf.map_fn(
            lambda b: tf.io.decode_png(b, channels=shape[-1]), f["image"],
            fn_output_signature=tf.TensorSpec(shape, tf.uint8))
    spec = {"image": tf.io.FixedLenFeature([size], tf.int64)}
    return spec, lambda f: tf.reshape(tf.cast(f["image"], tf.uint8),
                                      [-1, *shape])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tfds-data-dir", required=True)
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    data = tfds.as_numpy(tfds.load(
        "fashion_mnist", split=f"train[:{args.examples}]",
        data_dir=args.tfds_data_dir, download=False, batch_size=-1))
    images, labels = data["image"], data["label"]
    shape = images.shape[1:]
    work = tempfile.mkdtemp()
    print(f"{args.examples} Fashion-MNIST examples")
    print(f"{'encoding':10}{'file':>6}{'bytes/example':>15}"
          f"{'write ex/s':>12}{'decode ex/s':>13}")
    for kind, compression in (("raw", "GZIP"), ("raw", ""), ("png", "GZIP"),
                              ("int64", "GZIP")):
        path = os.path.join(work, f"{kind}-{compression}.tfrecord")
        serialized = list(_examples(images, labels, kind))
        started = time.perf_counter()
        with tf.io.TFRecordWriter(path, compression) as writer:
            for record in serialized:
                writer.write(record)
        writing = len(serialized) / (time.perf_counter() - started)
        spec, decode = _decode_fn(kind, shape)
        dataset = tf.data.TFRecordDataset(path, compression).batch(1024).map(
            lambda s, spec=spec, decode=decode: decode(
                tf.io.parse_example(s, spec)))
        started = time.perf_counter()
        count = sum(int(batch.shape[0]) for batch in dataset)
        rate = count / (time.perf_counter() - started)
        print(f"{kind:10}{compression.lower() or 'plain':>6}"
              f"{os.path.getsize(path) / count:15.1f}{writing:12.0f}"
              f"{rate:13.0f}")


if __name__ == "__main__":
    main()
