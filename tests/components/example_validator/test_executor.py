"""Anomalies stop the run before the Evaluator, naming the anomaly: no
model trained on such data is evaluated, blessed or pushed."""

import dataclasses
import re

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.example_validator import executor
from pipeline import nodes
from pipeline.runners import local as local_runner
from tests.conftest import SCHEMA
from tests.pipeline import helpers


def test_describe_names_feature_and_anomaly():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["label"]
    info.short_description = "Out-of-range values"
    info.description = "Unexpectedly large value: 9."
    assert executor.describe(anomalies) == [
        "feature 'label': Out-of-range values (Unexpectedly large value: 9.)"]
    assert executor.describe(anomalies_pb2.Anomalies()) == []


@pytest.mark.slow
def test_anomalies_stop_the_run_before_evaluation(tmp_path, tfds_data_dir):
    # A schema that allows labels 0..4 only; the data has 0..9.
    with open(SCHEMA, encoding="utf-8") as f:
        narrow = f.read().replace("max: 9", "max: 4")
    schema = tmp_path / "schema.pbtxt"
    schema.write_text(narrow)
    config = helpers.tiny_config(tmp_path / "out", tfds_data_dir)
    config = dataclasses.replace(config, schema_path=str(schema))
    with pytest.raises(local_runner.RunError) as error:
        local_runner.run(config, "local")
    message = str(error.value)
    # The Trainer beside it may fail on the same labels; the validation's
    # error is the one raised (launching.side_by_side).
    assert re.match(r"components? ExampleValidator (and Trainer )?failed: ",
                    message), message
    assert "feature 'label'" in message
    assert "Out-of-range" in message
    summary = helpers.read_summary(config.summary_path)
    statuses = helpers.statuses(summary)
    assert statuses[nodes.EXAMPLE_VALIDATOR] == "failed"
    # Transform and the Trainer do not wait for the validation
    # (launching.py runs them beside it); whatever they made goes no
    # further (a 5-class model fails on label 9).
    assert statuses[nodes.TRANSFORM] in ("executed", "skipped")
    assert statuses[nodes.TRAINER] in ("executed", "skipped", "failed")
    for node in (nodes.EVALUATOR, nodes.SERVING_VALIDATOR, nodes.PUSHER):
        assert statuses[node] == "skipped"
    assert summary["pushed_model"] is None
