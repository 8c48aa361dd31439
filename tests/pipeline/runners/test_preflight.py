"""The dataset is checked before any component runs."""

import os

import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import downloader

import pipeline_config as pc
from components.tfds_example_gen import dataset
from pipeline.runners import local as local_runner
from pipeline.runners import preflight
from tests.conftest import SCHEMA


class UnreachableImages(tfds.core.GeneratorBasedBuilder):
    """A dataset whose source can only be downloaded, from nowhere."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10)}))

    def _split_generators(self, dl_manager):
        # Port 9 on loopback: refused at once, no network needed.
        path = dl_manager.download("http://127.0.0.1:9/images.gz")
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        del path
        yield 0, {}


def _config(tmp_path, **dataset):
    return pc.PipelineConfig(
        output_dir=str(tmp_path / "out"), schema_path=SCHEMA,
        dataset=pc.DatasetConfig(**dataset))


def test_dataset_not_available_offline_says_how(tmp_path, monkeypatch):
    # TFDS retries a refused connection 10 times with backoff (minutes).
    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    config = _config(tmp_path, name="unreachable_images",
                     data_dir=str(tmp_path / "tfds"))
    with pytest.raises(dataset.DatasetError) as error:
        preflight.check_dataset(config)
    message = str(error.value)
    assert "could not prepare TFDS dataset 'unreachable_images/1.0.0'" in \
        message
    assert "--tfds-manual-dir" in message
    assert not os.path.exists(config.pipeline_root)


def test_schema_shape_must_match_the_dataset(tmp_path, tfds_data_dir):
    schema = tmp_path / "schema.pbtxt"
    with open(SCHEMA, encoding="utf-8") as f:
        schema.write_text(f.read().replace("28x28x1", "32x32x3"))
    config = pc.PipelineConfig(
        output_dir=str(tmp_path / "out"), schema_path=str(schema),
        dataset=pc.DatasetConfig(name="tiny_images", config="clean",
                                 data_dir=tfds_data_dir))
    with pytest.raises(dataset.DatasetError,
                       match=r"images of shape \(28, 28, 1\).*\(32, 32, 3\)"):
        preflight.check_dataset(config)


def test_missing_schema_says_how_to_make_one(tmp_path, tfds_data_dir):
    config = pc.PipelineConfig(
        output_dir=str(tmp_path / "out"),
        dataset=pc.DatasetConfig(name="tiny_images", config="clean",
                                 data_dir=tfds_data_dir))
    with pytest.raises(dataset.DatasetError, match="infer-schema"):
        preflight.check_dataset(config)


def test_unknown_runner(tmp_path):
    with pytest.raises(ValueError, match="unknown runner 'kubeflow'"):
        local_runner.run(_config(tmp_path), "kubeflow")
