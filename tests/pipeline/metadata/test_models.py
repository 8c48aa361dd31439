"""Pushed models, the baseline and the served model, and the history
records `runs` and `models` print, on an in-memory store."""

import json
import subprocess
import sys

import pytest

from pipeline import nodes
from pipeline.metadata import history
from pipeline.metadata import models
from pipeline.metadata import resolvers
from tests.conftest import REPO
from tests.pipeline.metadata import fake_runs
from tests.pipeline.metadata.fake_runs import CACHED, Outcome

P = fake_runs.PIPELINE


@pytest.fixture
def fake(tmp_path):
    store = fake_runs.FakeStore(tmp_path)
    yield store
    store.close()


def _model_id(produced):
    return produced[nodes.TRAINER][nodes.MODEL_KEY][0].id


def _baseline(fake, produced, candidate):
    """The baseline resolver's answer over the models and blessings the
    store recorded, for a candidate."""
    result = resolvers.LatestBlessedBeforeCandidateStrategy() \
        .resolve_artifacts(fake.store, {
            resolvers.MODEL_KEY: [p[nodes.TRAINER][nodes.MODEL_KEY][0]
                                  for p in produced],
            resolvers.BLESSING_KEY: [
                p[nodes.EVALUATOR][nodes.BLESSING_KEY][0] for p in produced],
            resolvers.CANDIDATE_KEY: [
                candidate[nodes.TRAINER][nodes.MODEL_KEY][0]]})
    return [m.id for m in result[resolvers.MODEL_KEY]]


def test_baseline_is_the_last_blessed_model_before_the_candidate(fake):
    first = fake.run("r1")
    second = fake.run("r2", Outcome(fingerprint="2" * 64))
    rejected = fake.run("r3", Outcome(fingerprint="3" * 64, blessed=False))
    produced = [first, second, rejected]
    assert _baseline(fake, produced, second) == [_model_id(first)]
    assert _baseline(fake, produced, rejected) == [_model_id(second)]
    assert _baseline(fake, produced, first) == []


def test_served_model_is_the_last_pushed_not_the_last_run(fake):
    assert models.last_pushed(fake.store, P) is None
    fake.run("r1")
    fake.run("r2", Outcome(default=CACHED, by_node={
        nodes.BASELINE_RESOLVER: "executed"}))
    fake.run("r3", Outcome(fingerprint="3" * 64, blessed=False))
    served = models.last_pushed(fake.store, P)
    assert served.version == "1001"
    assert models.run_of(fake.store, served.pusher_execution_id) == "r1"
    assert [m.version for m in models.pushed_models(fake.store, P)] == [
        "1001"]


def test_model_records_carry_lineage_and_recorded_accuracy(fake):
    fake.run("r1", Outcome(accuracy=0.91))
    fake.run("r2", Outcome(fingerprint="2" * 64, accuracy=0.93))
    records = history.model_records(fake.store, P)
    assert [(r.version, r.run_id, r.trained_in_run, r.accuracy,
             r.data_fingerprint[:1], r.dataset) for r in records] == [
        ("1002", "r2", "r2", 0.93, "2", "tiny_images:1.0.0"),
        ("1001", "r1", "r1", 0.91, "f", "tiny_images:1.0.0")]
    assert [r.version for r in history.model_records(fake.store, P, 1)] == [
        "1002"]


def test_run_records_read_only_the_runs_asked_for(fake, monkeypatch):
    """Accuracy comes from the evaluation artifact; TFMA's files are read
    only for an evaluation recorded before that, and only if its run is
    one of those asked for."""
    read = []
    monkeypatch.setattr(history.evaluator_metrics, "read_metrics",
                        lambda uri: read.append(uri) or {"accuracy": 0.5})
    fake.run("old", Outcome(legacy_evaluation=True))
    fake.run("new", Outcome(fingerprint="2" * 64, accuracy=0.95))
    [newest] = history.run_records(fake.store, P, limit=1)
    assert (newest.run_id, newest.status, newest.accuracy, newest.blessed,
            newest.pushed_version) == ("new", "succeeded", 0.95, True,
                                       "1002")
    assert not read
    assert [r.accuracy for r in history.run_records(fake.store, P)] == [
        0.95, 0.5]
    assert len(read) == 1


def test_history_commands_do_not_import_tensorflow(tmp_path):
    """`runs` and `models` on a store with runs, in a fresh interpreter:
    they list what is there and never load TensorFlow (4 s, and CUDA noise
    on the console)."""
    path = tmp_path / "metadata.sqlite"
    fake = fake_runs.FakeStore(tmp_path, sqlite_path=str(path))
    fake.run("r1", Outcome(accuracy=0.91))
    fake.close()
    code = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from pipeline.cli import cli\n"
        "out = [CliRunner().invoke(cli, [kind, '--metadata', sys.argv[1],"
        " '--json']).output for kind in ('runs', 'models')]\n"
        "print(json.dumps([out, sorted(m for m in ('tensorflow', "
        "'tensorflow_model_analysis', 'tfx.types', 'tensorflow_datasets')"
        " if m in sys.modules)]))\n")
    result = subprocess.run([sys.executable, "-c", code, f"sqlite://{path}"],
                            cwd=REPO, capture_output=True, text=True,
                            check=True)
    (listed_runs, listed_models), loaded = json.loads(result.stdout)
    assert loaded == []
    assert [r["accuracy"] for r in json.loads(listed_runs)] == [0.91]
    assert [m["version"] for m in json.loads(listed_models)] == ["1001"]
