"""The few lines a user would otherwise write: the benchmark's reference.

tfds.load -> scale -> batch 64 -> fit 5 epochs -> evaluate -> save, as
TensorFlow's tutorials write it: no distribution strategy, `verbose=0`.
`--strategy mirrored --verbose 2` is the seed script (MirroredStrategy,
a line per epoch), the second reference. Prints one JSON line with test
accuracy.
"""

import argparse
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # pylint: disable=wrong-import-position
import tensorflow_datasets as tfds  # pylint: disable=wrong-import-position


def scale(image, label):
    image = tf.cast(image, tf.float32)
    image /= 255
    return image, label


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None,
                        help="Seed Python, NumPy and TensorFlow.")
    parser.add_argument("--strategy", choices=["none", "mirrored"],
                        default="none")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args()
    if args.seed is not None:
        tf.keras.utils.set_random_seed(args.seed)

    dataset = tfds.load("fashion_mnist", data_dir=args.data_dir,
                        as_supervised=True, download=False)
    train, test = dataset["train"], dataset["test"]
    strategy = (tf.distribute.MirroredStrategy() if args.strategy ==
                "mirrored" else tf.distribute.get_strategy())
    with strategy.scope():
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(512, activation=tf.nn.relu),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10, activation=tf.nn.softmax)])
        model.compile(optimizer="adam",
                      loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    model.fit(train.map(scale).batch(64), epochs=args.epochs,
              verbose=args.verbose)
    _, accuracy = model.evaluate(test.map(scale).batch(64), verbose=0)
    model.save(args.save_dir, save_format="tf")
    print(json.dumps({"accuracy": float(accuracy)}))


if __name__ == "__main__":
    main()
