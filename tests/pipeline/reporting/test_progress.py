"""Progress records from the orchestrators' log messages."""

import logging

from pipeline import nodes
from pipeline.reporting import progress


def _log(handler, message):
    handler.emit(logging.LogRecord("absl", logging.INFO, __file__, 1,
                                   message, None, None))


def test_executed_cached_and_failed():
    lines = []
    clock = iter([0.0, 2.5, 3.0, 3.25, 4.0, 9.0]).__next__
    handler = progress.ProgressHandler(
        ["A", "B", "C", "D"], lambda n, r: lines.append((n, r.status,
                                                         r.seconds)),
        clock=clock)
    _log(handler, "Component A is running.")
    _log(handler, "Going to run a new execution 3")
    _log(handler, "Component A is finished.")
    _log(handler, "node B is running.")
    _log(handler, "A cached execution 4 is used.")
    _log(handler, "node B is finished.")
    _log(handler, "Component C is running.")
    handler.mark_unfinished_failed()
    assert lines == [("A", "executed", 2.5), ("B", "cached", 0.25),
                     ("C", "failed", 5.0)]
    assert handler.records["D"].status == "skipped"


def test_format_line():
    line = progress.format_line(nodes.TRAINER, progress.NodeRecord("cached", 1.25))
    assert nodes.TRAINER in line and "cached" in line and "1.2 s" in line
