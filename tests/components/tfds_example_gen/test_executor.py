"""The TfdsExampleGen executor and driver on the tiny dataset."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.components.base import base_beam_executor
from tfx.orchestration import metadata
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts

from components.tfds_example_gen import component
from components.tfds_example_gen import converter
from components.tfds_example_gen import dataset
from components.tfds_example_gen import driver
from components.tfds_example_gen import executor
from components.tfds_example_gen import manifest
from components.tfds_example_gen import reading
from components.tfds_example_gen import records
from tests import tiny_dataset

SPLITS = {"train": "train", "eval": "test"}


def _run_executor(tmp_path, data_dir, name="tiny_images/clean",
                  fingerprint="abc", splits=None):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=["--runner=DirectRunner"],
        tmp_dir=str(tmp_path / "tmp"))
    executor.Executor(context).Do(
        {}, {"examples": [examples]},
        {"dataset": name, "splits": json.dumps(splits or SPLITS),
         "data_dir": data_dir, "data_fingerprint": fingerprint})
    return examples


def _read(split_dir):
    files = glob.glob(os.path.join(split_dir, records.FILE_PREFIX + "*"))
    assert files, f"no TFRecord files in {split_dir}"
    # Uncompressed (records.py): read as plain TFRecords.
    return [tf.train.Example.FromString(r.numpy()) for r in
            tf.data.TFRecordDataset(files)]


def test_writes_every_split_with_properties(tmp_path, tfds_data_dir):
    examples = _run_executor(tmp_path, tfds_data_dir)
    assert json.loads(examples.split_names) == ["train", "eval"]
    train = _read(os.path.join(examples.uri, "Split-train"))
    evaluation = _read(os.path.join(examples.uri, "Split-eval"))
    assert len(train) == tiny_dataset.TinyImages.TRAIN_EXAMPLES
    assert len(evaluation) == tiny_dataset.TinyImages.TEST_EXAMPLES
    labels = [e.features.feature["label"].int64_list.value[0] for e in train]
    assert sorted(set(labels)) == list(range(10))  # label 0 is there
    image = train[0].features.feature["image"].bytes_list.value
    assert len(image) == 1 and len(image[0]) == 28 * 28
    assert examples.get_string_custom_property("tfds_name") == "tiny_images"
    assert examples.get_string_custom_property("tfds_version") == "1.0.0"
    assert examples.get_string_custom_property("tfds_config") == "clean"
    assert examples.get_string_custom_property("data_fingerprint") == "abc"
    recorded = examples.get_string_custom_property(manifest.PROPERTY)
    assert manifest.unchanged(recorded, data_dir=tfds_data_dir,
                              name="tiny_images", config="clean",
                              version=None, splits=SPLITS)
    assert examples.get_json_value_custom_property("num_examples") == {
        "train": 320, "eval": 120}


def test_a_split_that_takes_part_of_a_shard(tmp_path, tfds_data_dir):
    # Part of a shard is read as a whole shard is (reading.py), skipping
    # and taking records: the records are the whole split's.
    whole = _run_executor(tmp_path / "whole", tfds_data_dir)
    part = _run_executor(tmp_path / "part", tfds_data_dir,
                         splits={"train": "train[:25%]", "eval": "test"})
    part_train = _read(os.path.join(part.uri, "Split-train"))
    whole_train = _read(os.path.join(whole.uri, "Split-train"))
    assert len(part_train) == tiny_dataset.TinyImages.TRAIN_EXAMPLES // 4
    whole_records = {e.SerializeToString() for e in whole_train}
    assert {e.SerializeToString() for e in part_train} <= whole_records


def _store(path):
    return metadata.Metadata(
        metadata.sqlite_metadata_connection_config(str(path)))


def _driver_fingerprint(name, data_dir, store_path=None):
    """The driver's fingerprint, on an empty store by default."""
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "TfdsExampleGen"
    info = data_types.ExecutionInfo(
        exec_properties={"dataset": name, "splits": json.dumps(SPLITS),
                         "data_dir": data_dir},
        pipeline_info=pipeline_pb2.PipelineInfo(id="p"), pipeline_node=node)
    if store_path is None:
        store_path = os.path.join(data_dir, os.pardir,
                                  f"empty-{os.getpid()}.sqlite")
        if os.path.exists(store_path):
            os.remove(store_path)
    output = driver.TfdsDriver(_store(store_path)).run(info)
    return output.exec_properties[driver.FINGERPRINT_KEY].string_value


def _record_examples(store_path, data_dir, name, fingerprint):
    """An Examples artifact of node `p.TfdsExampleGen`, recorded as the
    executor records it: the files it read and their fingerprint."""
    builder = dataset.get_builder(name, data_dir)
    with _store(store_path) as handle:
        store = handle.store
        context_type = store.put_context_type(
            metadata_store_pb2.ContextType(name="node"))
        [context_id] = store.put_contexts([metadata_store_pb2.Context(
            type_id=context_type, name="p.TfdsExampleGen")])
        examples_type = store.put_artifact_type(
            metadata_store_pb2.ArtifactType(name="Examples"))
        artifact = metadata_store_pb2.Artifact(type_id=examples_type)
        artifact.custom_properties[manifest.PROPERTY].string_value = \
            manifest.record(builder.data_dir,
                            dataset.data_files(builder, SPLITS), SPLITS)
        artifact.custom_properties[driver.FINGERPRINT_KEY].string_value = \
            fingerprint
        [artifact_id] = store.put_artifacts([artifact])
        store.put_attributions_and_associations(
            [metadata_store_pb2.Attribution(context_id=context_id,
                                            artifact_id=artifact_id)], [])
    return dataset.data_files(builder, SPLITS)


def test_the_driver_takes_the_recorded_fingerprint_of_unchanged_files(
        tmp_path):
    """Unchanged files (sizes, modification times): the fingerprint recorded
    with them, without reading the data; a file touched since: the data's
    own fingerprint again."""
    data_dir = str(tmp_path / "tfds")
    tiny_dataset.prepare(data_dir, "clean")
    store_path = tmp_path / "metadata.sqlite"
    files = _record_examples(store_path, data_dir, "tiny_images/clean",
                             "recorded")
    assert _driver_fingerprint("tiny_images/clean", data_dir,
                               store_path) == "recorded"
    # Another config's files were never recorded.
    tiny_dataset.prepare(data_dir, "noisy")
    assert _driver_fingerprint("tiny_images/noisy", data_dir,
                               store_path) == _driver_fingerprint(
                                   "tiny_images/noisy", data_dir)
    status = os.stat(files[0])
    os.utime(files[0], ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    assert _driver_fingerprint("tiny_images/clean", data_dir,
                               store_path) == dataset.fingerprint(
        dataset.get_builder("tiny_images/clean", data_dir), SPLITS)


def test_fingerprint_is_stable_and_follows_the_data(tfds_data_dir):
    clean = _driver_fingerprint("tiny_images/clean", tfds_data_dir)
    assert clean == _driver_fingerprint("tiny_images/clean", tfds_data_dir)
    assert len(clean) == 64
    assert clean != _driver_fingerprint("tiny_images/noisy", tfds_data_dir)


def test_without_a_driver_the_executor_fingerprints(tmp_path, tfds_data_dir):
    """On Vertex no driver runs; the artifact still records the data."""
    examples = _run_executor(tmp_path, tfds_data_dir, fingerprint="")
    assert examples.get_string_custom_property("data_fingerprint") == \
        _driver_fingerprint("tiny_images/clean", tfds_data_dir)


def test_fingerprint_changes_with_the_split_slice(tfds_data_dir):
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    assert dataset.fingerprint(builder, SPLITS) != dataset.fingerprint(
        builder, {"train": "train[:50%]", "eval": "test"})


def test_unknown_dataset_suggests_close_names():
    try:
        dataset.get_builder("fashion_mnst")
    except dataset.DatasetError as error:
        assert "'fashion_mnst'" in str(error)
        assert "fashion_mnist" in str(error)
    else:
        raise AssertionError("no error for an unknown dataset")


def test_an_empty_slice_is_named(tfds_data_dir):
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    with pytest.raises(dataset.DatasetError,
                       match=r"'test\[100%:\]' .* holds no examples"):
        dataset.check_splits(builder, {"train": "train",
                                       "eval": "test[100%:]"})


def test_unknown_split_is_named(tfds_data_dir):
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    try:
        dataset.check_splits(builder, {"train": "train", "eval": "validation"})
    except dataset.DatasetError as error:
        assert "no split 'validation'" in str(error)
    else:
        raise AssertionError("no error for an unknown split")


def test_component_declares_parameters():
    gen = component.TfdsExampleGen(dataset="mnist", splits=SPLITS)
    assert json.loads(gen.exec_properties["splits"]) == SPLITS
    assert gen.outputs["examples"].type_name == "Examples"
    try:
        component.TfdsExampleGen(dataset="mnist", splits={})
    except ValueError as error:
        assert "splits must map" in str(error)
    else:
        raise AssertionError("empty splits accepted")


@pytest.mark.parametrize("split", ["train", "test[:25%]", "test[10:50]"])
def test_a_shard_read_directly_gives_the_records_tfds_gives(
        tfds_data_dir, monkeypatch, split):
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    encodings = converter.encodings_for(builder.info.features)
    assert reading.reads_directly(builder, encodings)
    instructions = builder.info.splits[split].file_instructions
    direct = [list(reading.serialized_examples(builder, i, encodings))
              for i in instructions]
    monkeypatch.setattr(reading, "reads_directly", lambda *_: False)
    through_tfds = [list(reading.serialized_examples(builder, i, encodings))
                    for i in instructions]
    assert direct == through_tfds
    assert sum(map(len, direct)) == builder.info.splits[split].num_examples


def test_only_flat_fixed_shape_tfrecord_shards_are_read_directly(
        tfds_data_dir, monkeypatch):
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    fixed = converter.encodings_for(builder.info.features)
    assert reading.reads_directly(builder, fixed)
    ragged = converter.encodings_for(tfds.features.FeaturesDict({
        "tokens": tfds.features.Tensor(shape=(None,), dtype=np.int64)}))
    assert not reading.reads_directly(builder, ragged)
    monkeypatch.setattr(type(builder.info), "file_format",
                        tfds.core.FileFormat.ARRAY_RECORD)
    assert not reading.reads_directly(builder, fixed)


class _Instruction:
    def __init__(self, skip=0, takes_all=True):
        self.skip, self.takes_all = skip, takes_all


def test_tfds_batches_only_whole_shards_of_fixed_shape_features():
    fixed = converter.encodings_for(tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(4, 4, 1)),
        "label": tfds.features.ClassLabel(num_classes=3)}))
    ragged = converter.encodings_for(tfds.features.FeaturesDict({
        "tokens": tfds.features.Tensor(shape=(None,), dtype=np.int64)}))
    arguments = reading._as_dataset_arguments  # pylint: disable=protected-access
    assert "batch_size" in arguments(_Instruction(), fixed)
    # TFDS would pad [1, 2] to the longest in the batch.
    assert "batch_size" not in arguments(_Instruction(), ragged)
    assert "batch_size" not in arguments(_Instruction(skip=5), fixed)
    assert "batch_size" not in arguments(_Instruction(takes_all=False), fixed)


def test_one_file_per_tfds_shard_written_whole(tmp_path, tfds_data_dir):
    examples = _run_executor(tmp_path, tfds_data_dir)
    builder = dataset.get_builder("tiny_images/clean", tfds_data_dir)
    for split, tfds_split in SPLITS.items():
        shards = builder.info.splits[tfds_split].file_instructions
        names = sorted(os.listdir(os.path.join(examples.uri,
                                               f"Split-{split}")))
        assert names == [f"{records.FILE_PREFIX}-{i:05d}-of-{len(shards):05d}"
                         for i in range(len(shards))]
    # A shard written again (a retried bundle) replaces its file.
    split_uri = os.path.join(examples.uri, "Split-eval")
    shards = builder.info.splits["test"].file_instructions
    before = _read(os.path.join(examples.uri, "Split-eval"))
    written = executor._write_shard(  # pylint: disable=protected-access
        (0, shards[0]), builder, split_uri, len(shards),
        converter.encodings_for(builder.info.features))
    assert written == shards[0].examples_in_shard
    assert _read(os.path.join(examples.uri, "Split-eval")) == before
