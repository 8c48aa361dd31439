"""Shared fixtures. Every test is offline and makes its own small data."""

import os

# Before TensorFlow is imported anywhere: tensorflow-transform needs Keras 2.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # pylint: disable=wrong-import-position

from tests import tiny_dataset  # pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(REPO, "schemas", "fashion_mnist", "schema.pbtxt")


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory):
    """A TFDS data dir with both configs of `tiny_images` prepared."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for config in ("clean", "noisy"):
        tiny_dataset.prepare(data_dir, config)
    return data_dir
