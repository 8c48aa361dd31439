"""A tiny TFDS image dataset the tests make, shaped like Fashion-MNIST.

Each class lights up its own 7x7 patch of a noisy 28x28x1 image, so a
model learns it in an epoch. The `noisy` config has random labels, so no
model can learn it. Registered with TFDS on import as `tiny_images`.
"""

import numpy as np
import tensorflow_datasets as tfds

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
# Named like Fashion-MNIST's, so that tests see names where classes appear.
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def make_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """A noisy image with the class's patch bright."""
    image = rng.integers(0, 60, IMAGE_SHAPE, dtype=np.uint8)
    row, col = divmod(label, 4)
    image[row * 7:(row + 1) * 7, col * 7:(col + 1) * 7, :] = 230
    return image


class TinyImages(tfds.core.GeneratorBasedBuilder):
    """Fashion-MNIST-shaped synthetic images."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="clean", description="learnable"),
        tfds.core.BuilderConfig(name="noisy", description="random labels"),
    ]
    TRAIN_EXAMPLES = 320
    TEST_EXAMPLES = 120

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=IMAGE_SHAPE),
                "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            }),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager  # Everything is generated.
        return {"train": self._generate_examples(self.TRAIN_EXAMPLES, 1),
                "test": self._generate_examples(self.TEST_EXAMPLES, 2)}

    def _generate_examples(self, count, seed):
        rng = np.random.default_rng(seed)
        for i in range(count):
            label = i % NUM_CLASSES
            image = make_image(label, rng)
            if self.builder_config.name == "noisy":
                label = int(rng.integers(0, NUM_CLASSES))
            yield i, {"image": image, "label": label}


def prepare(data_dir: str, config: str = "clean") -> str:
    """Prepares the dataset in `data_dir`; returns its TFDS name."""
    name = f"tiny_images/{config}"
    tfds.builder(name, data_dir=data_dir).download_and_prepare()
    return name
