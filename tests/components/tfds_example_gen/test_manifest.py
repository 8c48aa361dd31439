"""The data manifest: unchanged prepared files are told apart from changed
ones without TFDS; anything it cannot tell is left to the fingerprint."""

import json
import os
import shutil

import pytest

from components.tfds_example_gen import dataset
from components.tfds_example_gen import manifest

SPLITS = {"train": "train", "eval": "test"}


@pytest.fixture
def prepared(tmp_path, tfds_data_dir):
    """A private copy of the prepared tiny dataset, and its manifest."""
    data_dir = str(tmp_path / "tfds")
    shutil.copytree(tfds_data_dir, data_dir)
    builder = dataset.get_builder("tiny_images/clean", data_dir)
    files = dataset.data_files(builder, SPLITS)
    return data_dir, builder, files, manifest.record(builder.data_dir, files,
                                                     SPLITS)


def _unchanged(recorded, data_dir, **overrides):
    where = {"data_dir": data_dir, "name": "tiny_images", "config": "clean",
             "version": None, "splits": SPLITS, **overrides}
    return manifest.unchanged(recorded, **where)


def test_unchanged_files_are_recognised(prepared):
    data_dir, _, files, recorded = prepared
    assert files and all(os.path.isfile(f) for f in files)
    reason = _unchanged(recorded, data_dir)
    assert f"{len(files)} prepared files of version 1.0.0 are unchanged" in \
        reason
    assert _unchanged(recorded, data_dir, version="1.0.0")


def test_a_rewritten_file_is_not_judged_unchanged(prepared):
    data_dir, _, files, recorded = prepared
    status = os.stat(files[0])
    os.utime(files[0], ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    assert _unchanged(recorded, data_dir) is None


def test_a_new_version_beside_it_is_not_judged_unchanged(prepared):
    data_dir, builder, _, recorded = prepared
    shutil.copytree(builder.data_dir, os.path.join(
        os.path.dirname(builder.data_dir), "2.0.0"))
    assert _unchanged(recorded, data_dir) is None
    # Pinned to the version the run read: the new one does not matter.
    assert _unchanged(recorded, data_dir, version="1.0.0")


@pytest.mark.parametrize("overrides", [
    {"config": "noisy"}, {"name": "other"}, {"version": "2.0.0"},
    {"splits": {"train": "train[:50%]", "eval": "test"}},
])
def test_other_data_is_not_judged_unchanged(prepared, overrides):
    data_dir, _, _, recorded = prepared
    assert _unchanged(recorded, data_dir, **overrides) is None


def test_another_data_dir_or_tfds_release_is_not_judged_unchanged(
        prepared, tmp_path):
    data_dir, _, _, recorded = prepared
    assert _unchanged(recorded, str(tmp_path / "elsewhere")) is None
    other_release = json.loads(recorded)
    other_release["tfds"] = "0.0.1"
    assert _unchanged(json.dumps(other_release), data_dir) is None
    assert _unchanged(None, data_dir) is None
