"""Progress records from the orchestrators' log messages."""

import logging

from pipeline import nodes
from pipeline.reporting import progress


def _log(handler, message):
    handler.emit(logging.LogRecord("absl", logging.INFO, __file__, 1,
                                   message, None, None))


def test_executed_cached_and_failed():
    lines = []
    clock = iter([0.0, 0.5, 2.0, 2.5, 3.0, 3.25, 4.0, 9.0]).__next__
    handler = progress.ProgressHandler(
        ["A", "B", "C", "D"], lambda n, r: lines.append((n, r.status,
                                                         r.seconds)),
        clock=clock)
    _log(handler, "Component A is running.")
    _log(handler, "Going to run a new execution 3")
    _log(handler, "Cleaning up stateless execution info.")
    _log(handler, "Component A is finished.")
    _log(handler, "node B is running.")
    _log(handler, "A cached execution 4 is used.")
    _log(handler, "node B is finished.")
    _log(handler, "Component C is running.")
    handler.mark_unfinished_failed()
    assert lines == [("A", "executed", 2.5), ("B", "cached", 0.25),
                     ("C", "failed", 5.0)]
    assert handler.records["D"].status == "skipped"
    a, b = handler.records["A"], handler.records["B"]
    assert (a.work_seconds, a.overhead_seconds) == (1.5, 1.0)
    assert (b.work_seconds, b.overhead_seconds) == (0.0, 0.25)


def test_on_work_names_the_nodes_whose_executor_starts():
    working = []
    handler = progress.ProgressHandler(["A", "B"], lambda n, r: None,
                                       on_work=working.append)
    _log(handler, "node A is running.")
    _log(handler, "A cached execution 4 is used.")
    _log(handler, "node A is finished.")
    _log(handler, "node B is running.")
    assert working == []
    _log(handler, "Going to run a new execution 5")
    assert working == ["B"]


def test_beam_set_up_is_not_work():
    clock = iter([0.0, 1.0, 3.5, 9.0, 9.5]).__next__
    handler = progress.ProgressHandler(["StatisticsGen"], lambda n, r: None,
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
