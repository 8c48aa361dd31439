"""Shared fixtures. Every test is offline and makes its own small data."""

import os

# Before TensorFlow is imported anywhere: tensorflow-transform needs Keras 2.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# pylint: disable=wrong-import-position
# Tests import TFX the way the commands do (pipeline/cli.py).
from components import tfx_imports
tfx_imports.lazy_tfx_components()

import pytest

from tests import tiny_dataset
# pylint: enable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(REPO, "schemas", "fashion_mnist", "schema.pbtxt")


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory):
    """A TFDS data dir with both configs of `tiny_images` prepared."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for config in ("clean", "noisy"):
        tiny_dataset.prepare(data_dir, config)
    return data_dir


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory):
    """A MinIO server on loopback (tests/minio.py) with a bucket
    `pipeline`."""
    from tests import minio  # pylint: disable=import-outside-toplevel
    with minio.running(str(tmp_path_factory.mktemp("minio"))) as server:
        server.make_bucket("pipeline")
        yield server


@pytest.fixture
def s3_env(monkeypatch, minio_server):
    """This process's environment pointed at `minio_server`."""
    for name, value in minio_server.env.items():
        monkeypatch.setenv(name, value)
    return minio_server


_EXIT_STATUS = []


def pytest_sessionfinish(session, exitstatus):  # pylint: disable=unused-argument
    _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config):  # pylint: disable=unused-argument
    """A test that used s3:// in this process would otherwise abort the
    interpreter's teardown (see components/storage.py)."""
    from components import storage  # pylint: disable=import-outside-toplevel
    if storage.in_use() and _EXIT_STATUS:
        storage.end_process(_EXIT_STATUS[-1])
