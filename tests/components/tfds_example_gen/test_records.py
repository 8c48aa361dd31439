"""Reading a split goes by the file names: uncompressed as written now,
gzipped as written before."""

import json

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.tfds_example_gen import records


def _examples(tmp_path, files):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    examples.split_names = json.dumps(["eval"])
    split = tmp_path / "Split-eval"
    split.mkdir()
    for name, values in files.items():
        options = "GZIP" if name.endswith(".gz") else ""
        with tf.io.TFRecordWriter(str(split / name), options) as writer:
            for value in values:
                writer.write(value)
    return examples


@pytest.mark.parametrize("names,compression", [
    (("data_tfrecord-00000-of-00002", "data_tfrecord-00001-of-00002"), ""),
    (("data_tfrecord-00000-of-00002.gz",
      "data_tfrecord-00001-of-00002.gz"), "GZIP")])
def test_a_split_reads_in_file_order_either_way(tmp_path, names,
                                                compression):
    examples = _examples(tmp_path, {names[1]: [b"c"], names[0]: [b"a", b"b"]})
    files, found = records.split_files(examples, "eval")
    assert found == compression
    assert [f.rsplit("/", 1)[1] for f in files] == list(names)
    assert [r.numpy() for r in records.dataset(examples, "eval")] == [
        b"a", b"b", b"c"]


def test_a_split_written_both_ways_is_refused(tmp_path):
    examples = _examples(tmp_path, {"a": [b"a"], "b.gz": [b"b"]})
    with pytest.raises(ValueError, match="gzipped and uncompressed"):
        records.split_files(examples, "eval")


def test_a_shard_is_written_whole_or_not_at_all(tmp_path):
    path = records.shard_path(str(tmp_path), 0, 1)
    assert path.endswith("data_tfrecord-00000-of-00001")
    assert records.write_shard(path, [b"a", b"b"]) == 2

    def failing():
        yield b"c"
        raise RuntimeError("the reader failed")

    with pytest.raises(RuntimeError):
        records.write_shard(path, failing())
    # The earlier file stands; nothing half-written is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data_tfrecord-00000-of-00001"]
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == [b"a", b"b"]
