"""The Trainer executor hands run_fn the example counts ExampleGen recorded."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from google.protobuf import json_format

import pipeline_config as pc
from components.tfds_example_gen import properties
from components.trainer import executor
from components.trainer import settings


def _inputs(recorded=None):
    examples = standard_artifacts.Examples()
    if recorded is not None:
        examples.set_json_value_custom_property(properties.NUM_EXAMPLES,
                                                recorded)
    return {"examples": [examples]}


def _props(train_splits=("train",), eval_splits=("eval",)):
    return {
        "train_args": json_format.MessageToJson(
            trainer_pb2.TrainArgs(splits=list(train_splits))),
        "eval_args": json_format.MessageToJson(
            trainer_pb2.EvalArgs(splits=list(eval_splits))),
        "custom_config": json.dumps({})}


def test_counts_of_the_splits_the_trainer_reads():
    counts = executor.example_counts(
        _inputs({"train": 60000, "eval": 10000, "extra": 5}), _props())
    assert counts == {"train": 60000, "eval": 10000}


def test_several_splits_add_up_and_unknown_ones_are_left_out():
    counts = executor.example_counts(
        _inputs({"a": 3, "b": 4, "eval": 2}),
        _props(train_splits=("a", "b"), eval_splits=("missing",)))
    assert counts == {"train": 7}


def test_nothing_recorded_means_run_fn_counts():
    assert executor.example_counts(_inputs(), _props()) == {}
    assert executor.example_counts(_inputs(["not", "a", "dict"]),
                                    _props()) == {}


def test_the_counts_are_added_to_the_settings_and_nothing_else_changes():
    training = settings.TrainerSettings(
        **dataclasses.asdict(pc.TrainingConfig()), example_counts=None)
    custom_config = settings.write(training, {"other": 1})
    with_counts = executor.with_example_counts(
        custom_config, _inputs({"train": 6, "eval": 2}), _props())
    assert with_counts["other"] == 1
    assert settings.read(with_counts) == dataclasses.replace(
        training, example_counts={"train": 6, "eval": 2})
    unrecorded = executor.with_example_counts(custom_config, _inputs(),
                                              _props())
    assert settings.read(unrecorded).example_counts is None


def test_settings_from_another_version_stop_the_executor():
    with pytest.raises(settings.SettingsError, match="Recompile"):
        executor.with_example_counts({"epochs": 5}, _inputs(), _props())


def test_the_fresh_training_process_defers_tfx_components(tmp_path):
    """It imports TFX's Trainer, not every TFX component (as the commands
    do); a request that is not there is its one error."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m",
         "components.trainer.fresh_process", str(tmp_path / "missing.json"),
         str(os.getpid())],
        capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 1
    assert "NotFoundError: " + str(tmp_path / "missing.json") in result.stderr
    assert "tfx.components.trainer.executor" in result.stderr
    assert "tfx.components.tuner" not in result.stderr


def test_the_fresh_training_process_ends_with_its_parent(tmp_path):
    """A parent that is gone (a run killed mid-training) leaves no
    orphan: here the given parent is not the real one, as after a
    parent's death, and the process ends at once."""
    done = subprocess.run(
        [sys.executable, "-m", "components.trainer.fresh_process",
         str(tmp_path / "missing.json"), "1"],
        capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == -9
    assert "NotFoundError" not in done.stderr
