"""A small TFDS dataset whose data changes between versions, as a dataset
that a data team keeps publishing does.

  1.0.0  200 training examples (the tiny_images patterns), 120 test examples
  2.0.0  the same 200 plus 200 new ones: new data, as good
  3.0.0  the 400 with every training label shifted by one: whatever is
         trained on it is worse on the (unchanged, clean) test split

A new version is "released" by preparing it in a TFDS data dir; the
pipeline, which does not import this module, reads that data dir and takes
the newest version prepared there (TFDS's default for a dataset it knows
only from its files).
"""

import numpy as np
import tensorflow_datasets as tfds

from tests import tiny_dataset

NAME = "growing_images"
VERSIONS = ("1.0.0", "2.0.0", "3.0.0")


class GrowingImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Fashion-MNIST-shaped synthetic images; `release` makes the class of
    each release (TFDS generates only a builder's current VERSION)."""

    name = NAME
    VERSION = tfds.core.Version(VERSIONS[0])

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(
                    shape=tiny_dataset.IMAGE_SHAPE),
                "label": tfds.features.ClassLabel(
                    num_classes=tiny_dataset.NUM_CLASSES),
            }),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager  # Everything is generated.
        return {"train": self._generate_examples(train=True),
                "test": self._generate_examples(train=False)}

    def _generate_examples(self, train):  # pylint: disable=arguments-differ
        if not train:
            yield from self._examples(120, seed=2)
            return
        major = self.version.major
        yield from self._examples(200, seed=1, corrupt=major >= 3)
        if major >= 2:
            yield from self._examples(200, seed=3, first_key=200,
                                      corrupt=major >= 3)

    @staticmethod
    def _examples(count, seed, first_key=0, corrupt=False):
        rng = np.random.default_rng(seed)
        for i in range(count):
            label = i % tiny_dataset.NUM_CLASSES
            image = tiny_dataset.make_image(label, rng)
            if corrupt:
                label = (label + 1) % tiny_dataset.NUM_CLASSES
            yield first_key + i, {"image": image, "label": label}


def release(data_dir: str, version: str) -> None:
    """Prepares `version` in `data_dir`, making it the newest there."""
    assert version in VERSIONS, version
    builder_class = type("GrowingImages", (GrowingImages,),
                         {"VERSION": tfds.core.Version(version)},
                         skip_registration=True)
    builder_class(data_dir=data_dir).download_and_prepare()
