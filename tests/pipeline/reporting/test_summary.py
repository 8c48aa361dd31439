"""The summary reports an evaluation it cannot read instead of leaving
parts of it out silently."""

import logging

import pytest
import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components.evaluator import eval_config
from components.evaluator import metrics
from pipeline.reporting import summary


def _evaluation(directory, accuracy=0.875):
    """A TFMA output dir with overall metrics only."""
    record = metrics_for_slice_pb2.MetricsForSlice()
    for name, value in ((eval_config.ACCURACY, accuracy),
                        ("example_count", 120.0)):
        item = record.metric_keys_and_values.add()
        item.key.name = name
        item.value.double_value.value = value
    with tf.io.TFRecordWriter(
            str(directory / "metrics-00000-of-00001.tfrecord")) as writer:
        writer.write(record.SerializeToString())
    return str(directory)


def _artifact(uri):
    """An evaluation as ML Metadata holds it, written before the Evaluator
    recorded its metrics on it."""
    from ml_metadata.proto import metadata_store_pb2  # pylint: disable=import-outside-toplevel
    return metadata_store_pb2.Artifact(uri=uri)


def test_an_evaluation_without_plots_or_thresholds_is_normal(tmp_path):
    read = summary._metrics(_artifact(_evaluation(tmp_path)))  # pylint: disable=protected-access
    assert read["accuracy"] == 0.875 and read["example_count"] == 120
    assert "confusion_matrix" not in read
    assert "validation_failures" not in read and "unreadable" not in read


def test_a_damaged_plots_file_is_reported_not_dropped(tmp_path, caplog):
    uri = _evaluation(tmp_path)
    # A well-framed record that is no PlotsForSlice.
    with tf.io.TFRecordWriter(
            str(tmp_path / "plots-00000-of-00001.tfrecord")) as writer:
        writer.write(b"\xff\xff\xff not a proto")
    with caplog.at_level(logging.ERROR):
        read = summary._metrics(_artifact(uri))  # pylint: disable=protected-access
    assert read["unreadable"].startswith(uri)
    assert "cannot read the evaluation" in caplog.text


def test_recorded_metrics_round_trip(tmp_path):
    """The summary reads what the Evaluator recorded in ML Metadata, not
    TFMA's files (gone here)."""
    import shutil  # pylint: disable=import-outside-toplevel
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = _evaluation(tmp_path)
    read = metrics.read_metrics(evaluation.uri)
    metrics.record(evaluation, read)
    assert metrics.recorded_accuracy(evaluation.mlmd_artifact) == 0.875
    assert evaluation.get_int_custom_property("example_count") == 120
    shutil.rmtree(tmp_path)
    assert summary._metrics(evaluation.mlmd_artifact) == read  # pylint: disable=protected-access
    assert read["accuracy"] == 0.875 and read["example_count"] == 120


def test_metrics_too_long_for_a_property_are_read_from_tfma(tmp_path,
                                                          monkeypatch):
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(metrics, "METRICS_PROPERTY_MAX_CHARS", 10)
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = _evaluation(tmp_path)
    metrics.record(evaluation, metrics.read_metrics(evaluation.uri))
    assert metrics.recorded_metrics(evaluation.mlmd_artifact) is None
    assert metrics.recorded_accuracy(evaluation.mlmd_artifact) == 0.875
    assert summary._metrics(evaluation.mlmd_artifact)["accuracy"] == 0.875  # pylint: disable=protected-access


def test_beam_set_up_is_overhead_apart_from_the_launchers():
    from pipeline.reporting import progress  # pylint: disable=import-outside-toplevel
    record = progress.NodeRecord("executed", 10.0, work_seconds=7.0,
                                 beam_setup_seconds=2.0)
    split = summary._time_split(  # pylint: disable=protected-access
        {"A": record}, wall_seconds=10.5, split={"startup_seconds": 5.0})
    assert split["work_seconds"] == 7.0
    assert split["beam_setup_seconds"] == 2.0
    assert split["launcher_seconds"] == 1.0
    assert split["after_seconds"] == 0.5
    assert split["overhead_seconds"] == 5.0 + 2.0 + 1.0 + 0.5


def test_time_is_split_into_work_and_overhead():
    from pipeline.reporting import progress  # pylint: disable=import-outside-toplevel
    records = {"A": progress.NodeRecord("executed", 10.0, work_seconds=9.0),
               "B": progress.NodeRecord("cached", 0.5)}
    split = summary._time_split(  # pylint: disable=protected-access
        records, wall_seconds=12.0,
        split={"startup_seconds": 6.0, "preflight_seconds": 1.0})
    assert split == {"total_seconds": 18.0, "work_seconds": 9.0,
                     "overhead_seconds": 9.0, "side_by_side_seconds": 0.0,
                     "startup_seconds": 6.0,
                     "preflight_seconds": 1.0, "beam_setup_seconds": 0.0,
                     "launcher_seconds": 1.5, "after_seconds": 0.5}
    from pipeline.commands import run  # pylint: disable=import-outside-toplevel
    text = run.format_summary({
        "wall_seconds": 12.0, "metrics": {}, "blessed": False,
        "pushed_model": None, "components": {}, "time": split}, "x.json")
    assert "9.0 s of work, 9.0 s overhead (start-up and imports 6.0" in text


def test_nodes_side_by_side_are_counted_once_in_the_total():
    from pipeline.reporting import progress  # pylint: disable=import-outside-toplevel
    # A: 0-10 s, B: 4-7 s beside it, C: 10-12 s after both.
    records = {
        "A": progress.NodeRecord("executed", 10.0, work_seconds=9.0,
                                 logged=True, began=100.0, ended=110.0),
        "B": progress.NodeRecord("executed", 3.0, work_seconds=3.0,
                                 logged=True, began=104.0, ended=107.0),
        "C": progress.NodeRecord("executed", 2.0, work_seconds=2.0,
                                 logged=True, began=110.0, ended=112.0)}
    split = summary._time_split(  # pylint: disable=protected-access
        records, wall_seconds=13.0,
        split={"startup_seconds": 1.0, "preflight_seconds": 0.5})
    assert split["side_by_side_seconds"] == 3.0
    assert split["work_seconds"] == 14.0
    assert split["after_seconds"] == 0.5
    assert split["total_seconds"] == pytest.approx(
        split["work_seconds"] + split["overhead_seconds"]
        - split["side_by_side_seconds"])
    from pipeline.commands import run  # pylint: disable=import-outside-toplevel
    text = run.format_summary({
        "wall_seconds": 13.0, "metrics": {}, "blessed": False,
        "pushed_model": None, "components": {}, "time": split}, "x.json")
    assert "14.0 s of work, 3.0 s overhead, 3.0 s of them side by side" \
        in text
