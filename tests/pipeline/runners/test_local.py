"""The whole pipeline through LocalDagRunner on the tiny dataset.

First run: everything executes, the model is blessed and pushed, and the
pushed SavedModel answers both signatures. Second run, same data and
settings: fully cached, nothing pushed. Third run on data no model can
learn: not blessed, not pushed, the served version untouched.
"""

import hashlib
import json
import os

import pytest

from pipeline import nodes
from pipeline.metadata import resolvers
from pipeline.runners import local as local_runner
from tests.pipeline import helpers

pytestmark = pytest.mark.slow


def _digest(directory):
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tfds_data_dir):
    """Three runs into one output dir, in order."""
    output = tmp_path_factory.mktemp("local")
    config = helpers.tiny_config(output, tfds_data_dir)
    first = local_runner.run(config, "local")
    served = {v: _digest(os.path.join(config.serving_dir, v))
              for v in helpers.serving_versions(config.serving_dir)}
    second = local_runner.run(config, "local")
    noisy_config = helpers.tiny_config(output, tfds_data_dir, "noisy",
                                       min_accuracy=0.5)
    noisy = local_runner.run(noisy_config, "local")
    with open(config.summary_path, encoding="utf-8") as f:
        last_json = json.load(f)
    return {"config": config, "first": first, "second": second,
            "noisy": noisy, "served_after_first": served,
            "last_json": last_json}


def test_first_run_executes_blesses_and_pushes(runs):
    first = runs["first"]
    assert helpers.statuses(first) == {n: "executed" for n in helpers.NODES}
    assert first["blessed"] is True
    assert first["pushed_model"] is not None
    assert os.path.dirname(first["pushed_model"]) == \
        runs["config"].serving_dir
    assert first["metrics"]["accuracy"] >= 0.9
    assert first["metrics"]["example_count"] == 120
    assert set(first["metrics"]["per_class_accuracy"]) == {
        str(i) for i in range(10)}
    assert first["dataset"] == {"name": "tiny_images", "version": "1.0.0"}
    assert first["runner"] == "local"
    assert first["wall_seconds"] > sum(
        c["seconds"] for c in first["components"].values()) * 0.5
    trainer = first["components"][nodes.TRAINER]
    assert 0 < trainer["work_seconds"] <= trainer["seconds"]
    assert trainer["overhead_seconds"] == pytest.approx(
        trainer["seconds"] - trainer["work_seconds"], abs=0.002)
    split = first["time"]
    assert split["work_seconds"] > 0 and split["startup_seconds"] > 0
    assert split["total_seconds"] == pytest.approx(
        split["work_seconds"] + split["overhead_seconds"], abs=0.01)
    assert first["data"]["new"] is True and len(
        first["data"]["fingerprint"]) == 64
    matrix = first["metrics"]["confusion_matrix"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 120
    correct = sum(matrix[i][i] for i in range(10))
    assert correct / 120 == pytest.approx(first["metrics"]["accuracy"])
    assert first["metrics"]["validation_failures"] == []
    assert "baseline" not in first["metrics"]  # The first blessed model.
    assert os.path.isfile(first["report"])
    assert os.path.isfile(os.path.join(runs["config"].output_dir,
                                       "last_run.html"))


def test_pushed_model_answers_both_signatures(runs):
    helpers.check_signatures(runs["first"]["pushed_model"])


def test_training_used_the_configured_settings(runs):
    record = helpers.training_records(runs["config"].output_dir)[0]
    assert record["num_replicas_in_sync"] == 1
    assert record["global_batch_size"] == 64
    assert len(record["history"]["loss"]) == 2  # epochs
    # Not validated while training by default: the Evaluator evaluates.
    assert "val_loss" not in record["history"]
    model_run = os.path.join(runs["config"].pipeline_root, nodes.TRAINER,
                             "model_run")
    events = [f for _, _, files in os.walk(model_run) for f in files
              if f.startswith("events.out.tfevents")]
    assert events, "no TensorBoard logs in the model run dir"


def test_second_run_is_fully_cached_and_pushes_nothing(runs):
    second = runs["second"]
    expected = {n: "cached" for n in helpers.CACHEABLE}
    expected[nodes.BASELINE_RESOLVER] = "executed"
    assert helpers.statuses(second) == expected
    assert second["pushed_model"] is None
    assert second["blessed"] is True
    assert second["metrics"] == runs["first"]["metrics"]
    assert second["data"] == dict(runs["first"]["data"], new=False,
                                  note="no new data")
    assert list(runs["served_after_first"]) == [
        os.path.basename(runs["first"]["pushed_model"])]


def test_model_that_fails_the_gate_is_not_pushed(runs):
    noisy = runs["noisy"]
    statuses = helpers.statuses(noisy)
    assert statuses[nodes.TRAINER] == "executed"
    assert statuses[nodes.EVALUATOR] == "executed"
    assert statuses[nodes.PUSHER] == "executed"
    assert noisy["blessed"] is False
    assert noisy["pushed_model"] is None
    assert noisy["metrics"]["accuracy"] < 0.5
    assert any(f.startswith("overall: sparse_categorical_accuracy")
               for f in noisy["metrics"]["validation_failures"])
    serving_dir = runs["config"].serving_dir
    assert {v: _digest(os.path.join(serving_dir, v))
            for v in helpers.serving_versions(serving_dir)} == \
        runs["served_after_first"]
    assert noisy["serving_model"] == runs["first"]["pushed_model"]


def test_last_run_json_is_the_last_summary(runs):
    last = runs["last_json"]
    assert last == runs["noisy"]
    assert set(last) >= {"run_id", "runner", "dataset", "components",
                         "metrics", "blessed", "pushed_model",
                         "wall_seconds"}


def test_a_failing_baseline_resolver_fails_the_run_and_pushes_nothing(
        tmp_path, tfds_data_dir, monkeypatch):
    """TFX marks a node whose inputs cannot be resolved FAILED and goes on
    with the DAG; the Evaluator must then not bless without a baseline."""
    config = helpers.tiny_config(tmp_path, tfds_data_dir)
    first = local_runner.run(config, "local")
    served = {v: _digest(os.path.join(config.serving_dir, v))
              for v in helpers.serving_versions(config.serving_dir)}

    def broken(self, store, input_dict):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(resolvers.LatestBlessedBeforeCandidateStrategy,
                        "resolve_artifacts", broken)
    retrain = helpers.tiny_config(tmp_path, tfds_data_dir, seed=1)
    with pytest.raises(local_runner.RunError,
                       match=nodes.BASELINE_RESOLVER):
        local_runner.run(retrain, "local")
    with open(config.summary_path, encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["components"][nodes.TRAINER]["status"] == "executed"
    assert summary["components"][nodes.BASELINE_RESOLVER][
        "status"] == "failed"
    assert summary["components"][nodes.EVALUATOR]["status"] != "executed"
    assert summary["pushed_model"] is None
    assert {v: _digest(os.path.join(config.serving_dir, v))
            for v in helpers.serving_versions(config.serving_dir)} == served
    assert first["pushed_model"]


def test_a_scheduler_tells_unchanged_data_without_tfds(runs):
    """The manifest the real ExampleGen recorded lets `--once-if-changed`
    see, from ML Metadata and file stats alone, that the data of the last
    successful run (the noisy one) is unchanged, and that the clean data
    is not that data."""
    from components.tfds_example_gen import manifest  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import runs as metadata_runs  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
    config = runs["config"]
    store = metadata_store.open_store(local_runner.metadata_url(config),
                                      read_only=True)

    def check(dataset_config):
        return lambda recorded: manifest.unchanged(
            recorded, data_dir=config.dataset.data_dir, name="tiny_images",
            config=dataset_config, version=None, splits=config.dataset.splits)

    last = metadata_runs.last_successful(store, config.name)
    decision = metadata_runs.unchanged_since(store, last, check("noisy"))
    assert not decision.run
    assert "prepared files of version 1.0.0 are unchanged" in decision.reason
    assert metadata_runs.unchanged_since(store, last, check("clean")) is None
