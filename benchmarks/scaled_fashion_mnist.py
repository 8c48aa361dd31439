"""Fashion-MNIST with both splits N times larger, for the scale run.

Each split is the real images, each also shifted by one or two pixels
(N - 1 shifted copies, wrapping around the edge), so the images are real
and distinct, and every component's work grows N times: ExampleGen,
statistics and the Evaluator with both splits, the Trainer with the
training split. It is a TFDS dataset, `fashion_mnist_scaled/x<N>`, built from the prepared
`fashion_mnist` in the same data dir and read back by the pipeline like any
other (`--schema schemas/fashion_mnist/schema.pbtxt`: same features).

  python benchmarks/scaled_fashion_mnist.py --data-dir DIR --factor 10
"""

import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # pylint: disable=wrong-import-position
import tensorflow_datasets as tfds  # pylint: disable=wrong-import-position

NAME = "fashion_mnist_scaled"
# (rows, columns) each copy is shifted by; the first is the original.
OFFSETS = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1),
           (1, -1), (-1, 1), (0, 2), (2, 0), (0, -2), (-2, 0))


def shifted(image: np.ndarray, offset) -> np.ndarray:
    """`image` [H, W, C] moved by (rows, columns), wrapping at the edges."""
    return np.roll(image, shift=offset, axis=(0, 1))


class FashionMnistScaled(tfds.core.GeneratorBasedBuilder):
    """Fashion-MNIST, both splits scaled by shifted copies."""

    # 1.0.0 scaled the training split only.
    VERSION = tfds.core.Version("2.0.0")
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=f"x{factor}")
                       for factor in (2, 10)]

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10)}),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager
        factor = int(self.builder_config.name[1:])
        return {"train": self._generate_examples(tfds.Split.TRAIN, factor),
                "test": self._generate_examples(tfds.Split.TEST, factor)}

    def _generate_examples(self, split, factor):  # pylint: disable=arguments-differ
        source = tfds.load("fashion_mnist", split=split,
                           data_dir=str(self.data_dir_root),
                           download=False)
        for i, example in enumerate(tfds.as_numpy(source)):
            for copy, offset in enumerate(OFFSETS[:factor]):
                yield f"{i}-{copy}", {
                    "image": shifted(example["image"], offset),
                    "label": example["label"]}


def prepare(data_dir: str, factor: int) -> str:
    """Builds `fashion_mnist_scaled/x<factor>` in `data_dir` (once);
    returns its TFDS name."""
    name = f"{NAME}/x{factor}"
    tfds.builder(name, data_dir=data_dir).download_and_prepare()
    return name


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True,
                        help="TFDS data dir with fashion_mnist prepared.")
    parser.add_argument("--factor", type=int, default=10, choices=[2, 10])
    args = parser.parse_args()
    print(prepare(args.data_dir, args.factor))


if __name__ == "__main__":
    main()
