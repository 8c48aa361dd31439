"""The whole pipeline through LocalDagRunner on the tiny dataset.

First run: everything executes, the model is blessed and pushed, and the
pushed SavedModel answers both signatures. Second run, same data and
settings: fully cached, nothing pushed. Third run on data no model can
learn: not blessed, not pushed, the served version untouched.
"""

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest

from components.pusher import serving_dir
from components.serving_validator import standby
from pipeline import nodes
from pipeline.commands import run as run_command
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
    lines = {"first": [], "second": []}
    first = local_runner.run(config, "local", echo=lines["first"].append)
    served = {v: _digest(os.path.join(config.serving_dir, v))
              for v in helpers.serving_versions(config.serving_dir)}
    second = local_runner.run(config, "local", echo=lines["second"].append)
    noisy_config = helpers.tiny_config(output, tfds_data_dir, "noisy",
                                       min_accuracy=0.5)
    noisy = local_runner.run(noisy_config, "local", parallel_nodes=1)
    with open(config.summary_path, encoding="utf-8") as f:
        last_json = json.load(f)
    return {"config": config, "first": first, "second": second,
            "noisy": noisy, "served_after_first": served,
            "last_json": last_json, "lines": lines}


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
        split["work_seconds"] + split["overhead_seconds"]
        - split["side_by_side_seconds"], abs=0.01)
    # StatisticsGen and Transform wait only for ExampleGen: side by side.
    stats, transform = (first["components"][n]
                        for n in (nodes.STATISTICS_GEN, nodes.TRANSFORM))
    assert transform["started_seconds"] < (stats["started_seconds"]
                                           + stats["seconds"])
    assert stats["started_seconds"] < (transform["started_seconds"]
                                       + transform["seconds"])
    assert split["side_by_side_seconds"] > 0
    assert first["data"]["new"] is True and len(
        first["data"]["fingerprint"]) == 64
    matrix = first["metrics"]["confusion_matrix"]
    assert len(matrix) == 10 and sum(map(sum, matrix)) == 120
    correct = sum(matrix[i][i] for i in range(10))
    assert correct / 120 == pytest.approx(first["metrics"]["accuracy"])
    # Each class's accuracy (TFMA, class_accuracy.py) weighted by its
    # examples is the overall accuracy (Keras's metric in TFMA).
    per_class = first["metrics"]["per_class_accuracy"]
    assert sum(per_class[str(i)] * sum(matrix[i]) for i in range(10)) / 120 \
        == pytest.approx(first["metrics"]["accuracy"])
    assert first["metrics"]["validation_failures"] == []
    assert "baseline" not in first["metrics"]  # The first blessed model.
    assert os.path.isfile(first["report"])
    assert os.path.isfile(os.path.join(runs["config"].output_dir,
                                       "last_run.html"))


def test_each_live_line_says_what_ml_metadata_recorded(runs):
    for run in ("first", "second"):
        said = {line.split()[0].rstrip("."): line.split()[1]
                for line in runs["lines"][run] if line.startswith("  ")
                and line.split()[0].rstrip(".") in helpers.NODES}
        assert said == helpers.statuses(runs[run]), run
    assert set(helpers.statuses(runs["second"]).values()) == {
        "cached", "executed"}  # the resolver runs in every run


def test_pushed_model_answers_both_signatures(runs):
    helpers.check_signatures(runs["first"]["pushed_model"])


def test_the_pushed_version_was_validated_for_serving(runs):
    """Validated in a fresh process, with TF Serving's warm-up file and
    the sha256 of every file beside it."""
    first = runs["first"]
    validation = first["serving_validation"]
    assert validation["passed"] is True and validation["reason"] is None
    assert validation["latency_ms"]["serving_default"]["p50_batch_64"] > 0
    # The runner started the probe's process while the Evaluator ran (on
    # a machine with a core to spare).
    with open(validation["details"], encoding="utf-8") as f:
        assert json.load(f)["probe_started_early"] is standby.spare_core()
    pushed = first["pushed_model"]
    warmup_file = os.path.join(pushed, "assets.extra",
                               "tf_serving_warmup_requests")
    assert os.path.getsize(warmup_file) > 0
    base, version = os.path.split(pushed)
    assert serving_dir.problems(base, version) == []
    assert "serving: loads and answers in a fresh process" in \
        run_command.format_summary(first, "last_run.json")


def test_the_pushed_version_carries_its_model_card(runs):
    first = runs["first"]
    with open(os.path.join(first["pushed_model"], "assets.extra",
                           "model_card.md"), encoding="utf-8") as f:
        card = f.read()
    assert "Dataset: `tiny_images/clean`, TFDS version 1.0.0" in card
    assert f"Accuracy {first['metrics']['accuracy']:.4f} on 120 eval" in card
    assert "There was no baseline" in card
    assert "0 (T-shirt/top), 1 (Trouser)" in card
    assert "--epochs 2" in card
    assert "Flatten, Dense 512 relu, Dropout 0.2, Dense 10 softmax; Adam" \
        in card
    assert first["model_card"] == os.path.join(
        first["pushed_model"], "assets.extra", "model_card.html")
    with open(first["report"], encoding="utf-8") as f:
        assert 'id="model-card"' in f.read()
    # Class names where classes appear, with their index.
    assert first["metrics"]["class_names"][6] == "Shirt"


def test_training_used_the_configured_settings(runs):
    record = helpers.training_records(runs["config"].output_dir)[0]
    assert record["strategy"] == "MirroredStrategy"
    assert record["num_replicas_in_sync"] == 1
    # As configured (the default), compiled into the model, not a fallback.
    assert record["model"]["steps_per_execution"] == 100
    assert record["model"]["jit_compile"] is False
    # One replica without XLA: batches come in chunks (chunked.py).
    assert record["model"]["chunked"] is True
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
    assert noisy["serving_validation"]["passed"] is False
    assert "not blessed by the Evaluator" in \
        noisy["serving_validation"]["reason"]
    assert noisy["metrics"]["accuracy"] < 0.5
    assert any(f.startswith("overall: sparse_categorical_accuracy")
               for f in noisy["metrics"]["validation_failures"])
    # Each class is held to the baseline's figure for it too.
    assert any(f.startswith("class ") and ": class_accuracy -" in f
               for f in noisy["metrics"]["validation_failures"])
    serving_dir = runs["config"].serving_dir
    assert {v: _digest(os.path.join(serving_dir, v))
            for v in helpers.serving_versions(serving_dir)} == \
        runs["served_after_first"]
    assert noisy["serving_model"] == runs["first"]["pushed_model"]


def test_one_node_at_a_time_when_asked(runs):
    components = runs["noisy"]["components"]
    spans = sorted((c["started_seconds"], c["started_seconds"] + c["seconds"])
                   for c in components.values())
    for (_, ended), (began, _) in zip(spans, spans[1:]):
        assert began >= ended - 0.002
    assert runs["noisy"]["time"]["side_by_side_seconds"] == 0


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


def test_states_stay_right_when_tfx_words_its_log_differently(
        tmp_path, tfds_data_dir, monkeypatch):
    """No TFX log line matches (as after a change of wording): states, new
    data and the pushed model still come out right, from ML Metadata, and
    the run names the components it could not time from the log."""
    from pipeline.reporting import progress  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel
    for pattern in ("_STARTED", "_FINISHED", "_EXECUTOR_STARTS",
                    "_EXECUTOR_ENDS", "_BEAM_RUNS"):
        monkeypatch.setattr(progress, pattern, re.compile(r"^(?!)(x)$"))
    config = helpers.tiny_config(tmp_path / "out", tfds_data_dir)
    lines = []
    first = local_runner.run(config, "local", echo=lines.append)
    second = local_runner.run(config, "local", echo=lines.append)
    assert helpers.statuses(first) == {n: "executed" for n in helpers.NODES}
    assert all(s == "cached" for n, s in helpers.statuses(second).items()
               if n in helpers.CACHEABLE)
    assert (first["data"]["new"], second["data"]["new"]) == (True, False)
    assert first["pushed_model"] and second["pushed_model"] is None
    assert first["data"]["examples"] == {"train": 320, "eval": 120}
    assert {c["timed_by"] for c in first["components"].values()} == {
        "metadata"}
    assert first["components"][nodes.TRAINER]["seconds"] > 0
    assert sum("timed by ML Metadata, not TFX's log" in line
               for line in lines) == 2


# A run in a process of its own, as `pipeline run` makes it, that says
# which heavy libraries it imported.
_FRESH_RUN = """
import json, pickle, sys
from components import tfx_imports
tfx_imports.lazy_tfx_components()
assert tfx_imports.defer_optional_imports()
from pipeline.runners import local
with open(sys.argv[1], "rb") as f:
    config = pickle.load(f)
summary = local.run(config, "local", echo=lambda line: None)
with open(sys.argv[2], "w") as f:
    json.dump({"summary": summary, "imported": {
        name: name in sys.modules for name in (
            "tensorflow", "apache_beam", "tensorflow_datasets",
            "tensorflow_model_analysis", "tensorflow_data_validation",
            "tensorflow_transform")}}, f)
"""


def _fresh_run(config, tmp_path):
    with open(tmp_path / "config.pickle", "wb") as f:
        pickle.dump(config, f)
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_RUN, str(tmp_path / "config.pickle"),
         str(tmp_path / "said.json")], cwd=helpers.REPO, text=True,
        capture_output=True, check=False,
        env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "said.json", encoding="utf-8") as f:
        return json.load(f)


def test_a_cached_rerun_imports_no_tensorflow_and_remakes_what_is_gone(
        runs, tmp_path):
    """The re-run of the last run's settings on its unchanged data runs the
    kept compiled pipeline: every node through TFX's launcher, found in the
    cache, and neither TensorFlow nor Beam nor any component's library
    imported. An artifact deleted since is made again in such a run: its
    node executes, with TensorFlow and Beam imported for it then."""
    from pipeline.metadata import runs as metadata_runs  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
    config = helpers.tiny_config(
        runs["config"].output_dir, runs["config"].dataset.data_dir,
        "noisy", min_accuracy=0.5)
    cached = _fresh_run(config, tmp_path)
    expected = {n: "cached" for n in helpers.CACHEABLE}
    expected[nodes.BASELINE_RESOLVER] = "executed"
    assert helpers.statuses(cached["summary"]) == expected
    assert not any(cached["imported"].values()), cached["imported"]
    assert cached["summary"]["metrics"] == runs["noisy"]["metrics"]
    assert cached["summary"]["dataset"] == runs["noisy"]["dataset"]

    store = metadata_store.open_store(local_runner.metadata_url(config),
                                      read_only=True)
    last = metadata_runs.get_run(store, config.name,
                                 cached["summary"]["run_id"])
    [statistics] = metadata_runs.outputs(
        store, last, nodes.STATISTICS_GEN)["statistics"]
    shutil.rmtree(statistics.uri)
    remade = _fresh_run(config, tmp_path)
    expected.update({nodes.STATISTICS_GEN: "executed",
                     nodes.EXAMPLE_VALIDATOR: "executed"})
    assert helpers.statuses(remade["summary"]) == expected
    assert remade["imported"]["apache_beam"]
    assert remade["imported"]["tensorflow_data_validation"]
    assert remade["summary"]["metrics"] == runs["noisy"]["metrics"]
