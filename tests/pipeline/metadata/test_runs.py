"""What the product decides from ML Metadata, on an in-memory store:
run status, judged against each run's own nodes, and what
`schedule --once-if-changed` does and why."""

import pytest

from pipeline import nodes
from pipeline.metadata import runs
from pipeline.runners import node_entrypoint
from tests.pipeline.metadata import fake_runs
from tests.pipeline.metadata.fake_runs import (CACHED, FAILED, KILLED,
                                               Outcome)

P = fake_runs.PIPELINE
OTHER = "e" * 64


@pytest.fixture
def fake(tmp_path):
    store = fake_runs.FakeStore(tmp_path)
    yield store
    store.close()


def _status(fake, run_id):
    return runs.get_run(fake.store, P, run_id).status


def test_succeeded_cached_failed_and_killed_runs(fake):
    fake.run("r1")
    fake.run("r2", Outcome(default=CACHED, by_node={
        nodes.BASELINE_RESOLVER: "executed"}))
    fake.run("r3", Outcome(by_node={nodes.TRAINER: FAILED}))
    fake.run("r4", Outcome(by_node={nodes.TRAINER: KILLED}))
    listed = runs.runs(fake.store, P)
    assert [r.run_id for r in listed] == ["r4", "r3", "r2", "r1"]
    assert [r.status for r in listed] == [
        runs.INCOMPLETE, runs.FAILED, runs.SUCCEEDED, runs.SUCCEEDED]
    assert listed[3].states[nodes.TRAINER] == "executed"
    assert listed[2].fully_cached and not listed[3].fully_cached
    assert listed[1].states[nodes.TRAINER] == "failed"
    assert nodes.EVALUATOR not in listed[1].states
    assert listed[0].states[nodes.TRAINER] == "running"
    assert runs.node_states(fake.store, P, "r3")[nodes.TRAINER] == "FAILED"
    assert runs.node_states(fake.store, P, "nope") == {}


def test_one_nodes_execution_in_one_run_by_one_query(fake):
    fake.run("r1")
    fake.run("r2", Outcome(default=CACHED, by_node={
        nodes.TRAINER: FAILED}))
    state = lambda run_id, node_id: getattr(runs.node_execution(
        fake.store, P, run_id, node_id), "last_known_state", None)
    assert state("r1", nodes.TRAINER) == runs.EXECUTED_STATE
    assert state("r2", nodes.TRAINER) == runs.FAILED_STATE
    assert state("r2", nodes.EXAMPLE_GEN) == runs.CACHED_STATE
    assert state("r2", nodes.EVALUATOR) is None  # never started
    assert state("nope", nodes.TRAINER) is None
    assert runs.node_execution(fake.store, P, "r2", nodes.TRAINER).id == \
        runs.get_run(fake.store, P, "r2").executions[nodes.TRAINER].id
    assert runs.node_execution(fake.store, "other", "r1",
                               nodes.TRAINER) is None


def test_each_run_is_judged_against_its_own_nodes(fake):
    """Toggling warm start adds a node; neither kind of run looks
    incomplete because of the other."""
    fake.run("plain")
    fake.run("warm", warm_start=True)
    fake.run("plain-again", Outcome(default=CACHED, by_node={
        nodes.BASELINE_RESOLVER: "executed"}))
    by_id = {r.run_id: r for r in runs.runs(fake.store, P)}
    assert nodes.WARM_START_RESOLVER in by_id["warm"].node_ids
    assert nodes.WARM_START_RESOLVER not in by_id["plain"].node_ids
    assert {r.status for r in by_id.values()} == {runs.SUCCEEDED}
    assert runs.last_successful(fake.store, P).run_id == "plain-again"


def test_a_run_missing_a_node_of_its_own_pipeline_is_incomplete(fake):
    fake.run("warm", Outcome(by_node={nodes.PUSHER: KILLED}),
             warm_start=True)
    assert _status(fake, "warm") == runs.INCOMPLETE


def test_limit_reads_only_the_newest_runs(fake):
    for i in range(5):
        fake.run(f"r{i}", Outcome(fingerprint=str(i) * 64))
    assert [r.run_id for r in runs.runs(fake.store, P, limit=2)] == [
        "r4", "r3"]
    assert runs.runs(fake.store, "other-pipeline") == []


def _decide(fake, fingerprint, store=True):
    if not store:
        return runs.decide_on_data(None, None, P, fingerprint,
                                   "tiny_images:1.0.0")
    return runs.decide_on_data(fake.store, runs.last_successful(
        fake.store, P), P, fingerprint, "tiny_images:1.0.0")


def test_once_if_changed_runs_when_nothing_ran_yet(fake):
    decision = _decide(fake, OTHER, store=False)
    assert decision.run and "no successful run" in decision.reason
    decision = _decide(fake, OTHER)  # An empty store.
    assert decision.run and "no successful run" in decision.reason


def test_once_if_changed_skips_unchanged_data(fake):
    fake.run("r1")
    decision = _decide(fake, "f" * 64)
    assert not decision.run
    assert "no new data" in decision.reason and "r1" in decision.reason


def test_once_if_changed_runs_on_changed_data(fake):
    fake.run("r1")
    decision = _decide(fake, OTHER)
    assert decision.run
    assert "data changed" in decision.reason and "ffffffffffff" in \
        decision.reason


def test_once_if_changed_compares_with_the_last_successful_run(fake):
    """A run that failed or was killed on new data did not ingest it."""
    fake.run("r1")
    fake.run("r2", Outcome(fingerprint=OTHER,
                           by_node={nodes.TRAINER: FAILED}))
    fake.run("r3", Outcome(fingerprint=OTHER,
                           by_node={nodes.EVALUATOR: KILLED}))
    decision = _decide(fake, OTHER)
    assert decision.run and "r1" in decision.reason
    assert not _decide(fake, "f" * 64).run


def test_once_if_changed_after_warm_start_was_toggled(fake):
    """The defect this guards against: runs judged against every node the
    pipeline ever had. One warm-start run (here killed) added a node, and
    from then on every plain run looked incomplete, so no successful run
    was found and every tick ran again."""
    fake.run("warm", Outcome(by_node={nodes.TRAINER: KILLED}),
             warm_start=True)
    fake.run("plain")
    decision = _decide(fake, "f" * 64)
    assert not decision.run and "plain" in decision.reason


def test_quick_check_reads_the_manifest_of_the_last_successful_run(fake):
    """`--once-if-changed` without TFDS: the last successful run's
    manifest, not a later failed run's."""
    fake.run("r1", Outcome(data_files="manifest-1"))
    fake.run("r2", Outcome(fingerprint=OTHER, data_files="manifest-2",
                           by_node={nodes.TRAINER: FAILED}))
    seen = []

    def check(recorded):
        seen.append(recorded)
        return "files unchanged" if recorded == "manifest-1" else None

    decision = runs.unchanged_since(
        fake.store, runs.last_successful(fake.store, P), check)
    assert seen == ["manifest-1"]
    assert not decision.run
    assert "no new data (files unchanged" in decision.reason
    assert "r1" in decision.reason
    assert runs.unchanged_since(fake.store, runs.last_successful(
        fake.store, P), lambda recorded: None) is None


def test_quick_check_cannot_tell_without_a_manifest_or_a_run(fake):
    assert runs.unchanged_since(fake.store, runs.last_successful(
        fake.store, P), lambda recorded: "x") is None
    fake.run("r1")
    seen = []
    runs.unchanged_since(fake.store, runs.last_successful(fake.store, P),
                         lambda recorded: seen.append(recorded))
    assert seen == [None]


def _package(fake, ir=None, check=lambda recorded: "files unchanged"):
    """What a scheduled run of the Kubeflow package decides."""
    ir = ir if ir is not None else fake.compiled()
    return runs.decide_for_package(fake.store, P,
                                   runs.pipeline_fingerprint(ir), check)


def test_pipeline_fingerprint_leaves_itself_out_and_sees_parameters(fake):
    ir = fake.compiled()
    fingerprint = runs.pipeline_fingerprint(ir)
    assert runs.record_pipeline_fingerprint(ir) == fingerprint
    assert runs.pipeline_fingerprint(ir) == fingerprint
    node_entrypoint.set_run_parameters(ir, epochs=9)
    assert runs.pipeline_fingerprint(ir) != fingerprint


def test_runs_record_the_fingerprint_of_their_pipeline(fake):
    fake.run("r1")
    assert runs.get_run(fake.store, P, "r1").pipeline_fingerprint == \
        runs.pipeline_fingerprint(fake.compiled())


def test_package_runs_when_nothing_ran_yet(fake):
    decision = _package(fake)
    assert decision.run and "no successful run" in decision.reason


def test_package_skips_the_same_pipeline_on_unchanged_data(fake):
    fake.run("r1", Outcome(data_files="manifest-1"))
    seen = []

    def check(recorded):
        seen.append(recorded)
        return "files unchanged"

    decision = _package(fake, check=check)
    assert not decision.run and seen == ["manifest-1"]
    assert decision.reason.startswith("same compiled pipeline (")
    assert "no new data (files unchanged" in decision.reason
    assert "r1" in decision.reason


def test_package_runs_after_its_pipeline_changed(fake):
    fake.run("r1", Outcome(data_files="manifest-1"))
    ir = fake.compiled()
    node_entrypoint.set_run_parameters(ir, epochs=9)
    decision = _package(fake, ir)
    assert decision.run
    assert "compiled pipeline changed" in decision.reason
    assert "r1" in decision.reason
    assert _package(fake, fake.compiled(warm_start=True)).run


def test_package_runs_when_the_data_cannot_be_told_unchanged(fake):
    fake.run("r1", Outcome(data_files="manifest-1"))
    decision = _package(fake, check=lambda recorded: None)
    assert decision.run and "cannot be told unchanged" in decision.reason


def test_package_compares_with_the_last_successful_run(fake):
    """A later failed run of another pipeline version does not count."""
    fake.run("r1", Outcome(data_files="manifest-1"))
    fake.run("r2", Outcome(by_node={nodes.TRAINER: FAILED}),
             warm_start=True)
    assert not _package(fake).run
