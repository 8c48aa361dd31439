"""Progress records: states from ML Metadata, timings from the
orchestrators' log messages."""

import logging

from ml_metadata.proto import metadata_store_pb2

from pipeline import nodes
from pipeline.reporting import progress

State = metadata_store_pb2.Execution.State


def _execution(state, created=0, updated=0):
    return metadata_store_pb2.Execution(
        last_known_state=state, create_time_since_epoch=created,
        last_update_time_since_epoch=updated)


def _log(handler, message):
    handler.emit(logging.LogRecord("absl", logging.INFO, __file__, 1,
                                   message, None, None))


def test_states_come_from_metadata_and_times_from_the_log():
    lines = []
    clock = iter([0.0, 0.5, 2.0, 2.5, 3.0, 3.25, 4.0, 9.0]).__next__
    states = {"A": State.COMPLETE, "B": State.CACHED}
    handler = progress.ProgressHandler(
        ["A", "B", "C", "D"], lambda n, r: lines.append((n, r.status,
                                                         r.seconds)),
        status_of=states.get, clock=clock)
    _log(handler, "Component A is running.")
    _log(handler, "Going to run a new execution 3")
    _log(handler, "Cleaning up stateless execution info.")
    _log(handler, "Component A is finished.")
    _log(handler, "node B is running.")
    _log(handler, "node B is finished.")
    _log(handler, "Component C is running.")
    handler.mark_unfinished_failed()
    assert lines == [("A", "executed", 2.5), ("B", "cached", 0.25),
                     ("C", "failed", 5.0)]
    untimed = progress.settle(handler.records, {
        "A": _execution(State.COMPLETE), "B": _execution(State.CACHED),
        "C": _execution(State.RUNNING)})
    assert untimed == []
    assert {n: r.status for n, r in handler.records.items()} == {
        "A": "executed", "B": "cached", "C": "failed", "D": "skipped"}
    a, b = handler.records["A"], handler.records["B"]
    assert (a.work_seconds, a.overhead_seconds) == (1.5, 1.0)
    assert (b.work_seconds, b.overhead_seconds) == (0.0, 0.25)
    # When each ran, for the time split of nodes side by side.
    assert (a.began, a.ended) == (0.0, 2.5)
    assert (b.began, b.ended) == (3.0, 3.25)
    assert (handler.records["C"].began, handler.records["C"].ended) == (
        4.0, 9.0)


def test_changed_log_wording_keeps_the_states_and_names_the_untimed():
    """TFX words its lines differently: nothing matches, and the states
    are still ML Metadata's; the times are its executions'."""
    lines = []
    handler = progress.ProgressHandler(
        ["A", "B", "C"], lambda n, r: lines.append(n),
        status_of=lambda n: None)
    for message in ("Node A started.", "Reusing cached execution 4.",
                    "Node A done.", "Node B started.", "Node B done."):
        _log(handler, message)
    assert lines == []
    untimed = progress.settle(handler.records, {
        "A": _execution(State.CACHED, 1000, 1250),
        "B": _execution(State.COMPLETE, 2000, 9500)})
    assert untimed == ["A", "B"]
    a, b, c = (handler.records[n] for n in "ABC")
    assert (a.status, a.seconds, a.logged) == ("cached", 0.25, False)
    assert (b.status, b.seconds, b.work_seconds) == ("executed", 7.5, 0.0)
    assert c.status == "skipped"


def test_a_state_that_cannot_be_read_live_is_unknown_until_settled(caplog):
    lines = []

    def unreadable(node_id):
        raise OSError("store busy")

    handler = progress.ProgressHandler(
        ["A"], lambda n, r: lines.append(r.status), status_of=unreadable)
    _log(handler, "node A is running.")
    _log(handler, "node A is finished.")
    assert lines == ["unknown"]
    assert "cannot read A's state from ML Metadata" in caplog.text
    assert "store busy" in caplog.text
    progress.settle(handler.records, {"A": _execution(State.COMPLETE)})
    assert handler.records["A"].status == "executed"


def test_on_work_names_the_nodes_whose_executor_starts():
    working = []
    handler = progress.ProgressHandler(["A", "B"], lambda n, r: None,
                                       status_of=lambda n: State.CACHED,
                                       on_work=working.append)
    _log(handler, "node A is running.")
    _log(handler, "node A is finished.")
    _log(handler, "node B is running.")
    assert working == []
    _log(handler, "Going to run a new execution 5")
    assert working == ["B"]


def test_beam_set_up_is_not_work():
    clock = iter([0.0, 1.0, 3.5, 9.0, 9.5]).__next__
    handler = progress.ProgressHandler(["StatisticsGen"], lambda n, r: None,
                                       status_of=lambda n: State.COMPLETE,
                                       clock=clock)
    _log(handler, "Component StatisticsGen is running.")        # 0.0
    _log(handler, "Going to run a new execution 3")              # 1.0
    # Beam logs from a thread of its own.
    beam = logging.LogRecord("apache_beam.runners.worker.statecache",
                             logging.INFO, __file__, 1,
                             "Creating state cache with size 104857600",
                             None, None)
    beam.thread = -1
    handler.emit(beam)                                           # 3.5
    _log(handler, "Cleaning up stateless execution info.")       # 9.0
    _log(handler, "Component StatisticsGen is finished.")        # 9.5
    record = handler.records["StatisticsGen"]
    assert record.beam_setup_seconds == 2.5
    assert record.work_seconds == 5.5
    assert record.overhead_seconds == 4.0  # 1.0 launcher + 2.5 Beam + 0.5


def test_format_line():
    line = progress.format_line(nodes.TRAINER, progress.NodeRecord(
        "executed", 12.25, work_seconds=12.0))
    assert nodes.TRAINER in line and "executed" in line
    assert "12.2 s" in line and "(overhead 0.2 s)" in line


def test_reading_the_state_may_log_through_the_same_handler():
    """Opening ML Metadata logs a line of its own, which reaches this
    handler while it handles the node's last line."""
    lines = []
    handler = progress.ProgressHandler(
        ["A"], lambda n, r: lines.append(r.status),
        status_of=lambda n: (_log(handler, "MetadataStore initialized"),
                             State.CACHED)[1])
    _log(handler, "node A is running.")
    _log(handler, "node A is finished.")
    assert lines == ["cached"]
