"""The best script for the pipeline's work: the benchmark's main reference.

The same work as the pipeline's Trainer and Evaluator, written by hand as
fast as we know how on this machine: the product's model under
MirroredStrategy, batch 64 per replica, Adam at its default learning rate,
5 epochs over every training example, then accuracy over every test example
and a SavedModel. What makes it fast, and nothing else:

- decode and scale each image once, in parallel, then `cache()` the
  scaled split, so later epochs read memory;
- `prefetch`, so the input pipeline runs beside the training step;
- `steps_per_execution=100`: 100 steps per call from Python into TensorFlow;
- XLA (`jit_compile`, `--no-xla` to compare), which fuses the step's ops;
- tf_keras kept out of AutoGraph (components/autograph.py: TensorFlow
  re-parses Keras 2's code on every trace otherwise).

Prints one JSON line: test accuracy and the seconds `fit` took.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # pylint: disable=wrong-import-position
import tensorflow_datasets as tfds  # pylint: disable=wrong-import-position

from components import autograph  # pylint: disable=wrong-import-position


def scale(image, label):
    return tf.cast(image, tf.float32) / 255, label


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64,
                        help="Examples per replica per step.")
    parser.add_argument("--seed", type=int, default=None,
                        help="Seed Python, NumPy and TensorFlow.")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction,
                        default=True)
    args = parser.parse_args()
    autograph.skip_library_conversion()
    if args.seed is not None:
        tf.keras.utils.set_random_seed(args.seed)

    dataset = tfds.load("fashion_mnist", data_dir=args.data_dir,
                        as_supervised=True, download=False)
    strategy = tf.distribute.MirroredStrategy()
    batch = args.batch_size * strategy.num_replicas_in_sync

    def prepared(split):
        return (dataset[split].map(scale, num_parallel_calls=tf.data.AUTOTUNE)
                .cache().batch(batch).prefetch(tf.data.AUTOTUNE))

    train, test = prepared("train"), prepared("test")
    with strategy.scope():
        model = tf.keras.models.Sequential([
            tf.keras.layers.Input(shape=(28, 28, 1)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(512, activation=tf.nn.relu),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10, activation=tf.nn.softmax)])
        model.compile(optimizer="adam",
                      loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], steps_per_execution=100,
                      jit_compile=args.xla)
    started = time.monotonic()
    model.fit(train, epochs=args.epochs, verbose=0)
    fit_seconds = time.monotonic() - started
    _, accuracy = model.evaluate(test, verbose=0)
    model.save(args.save_dir, save_format="tf")
    print(json.dumps({"accuracy": float(accuracy),
                      "fit_seconds": fit_seconds}))


if __name__ == "__main__":
    main()
