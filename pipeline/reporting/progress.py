"""Live progress: one line per component, from the orchestrators' own logs.

TFX's runners log when a node starts and finishes, and its launcher logs
whether it found a cached execution and when the executor starts and ends;
a logging handler turns those into `(node, status, seconds, work seconds)`
records and prints one line per finished node. A node's work is its
executor's run, less Beam's set-up for a Beam component (building and
translating its Beam pipeline, until Beam's runner starts executing it and
creates its state cache); the rest of its time is overhead: that set-up
and the launcher's input resolution, driver, cache lookup in ML Metadata
and publishing of outputs.
"""

import dataclasses
import logging
import re
import threading
import time
from typing import Callable, Dict, Optional

EXECUTED = "executed"
CACHED = "cached"
FAILED = "failed"
SKIPPED = "skipped"

_STARTED = re.compile(r"^(?:Component|node) (\S+) is running\.$")
_FINISHED = re.compile(r"^(?:Component|node) (\S+) is finished\.$")
_CACHED = re.compile(r"^A cached execution \d+ is used\.$")
_EXECUTOR_STARTS = re.compile(r"^Going to run a new execution \d+$")
_EXECUTOR_ENDS = re.compile(r"^Cleaning up stateless execution info\.$")
# Logged by Beam's portable runner (the DirectRunner's) as it starts
# executing a pipeline.
_BEAM_RUNS = re.compile(r"^Creating state cache with size \d+$")


@dataclasses.dataclass
class NodeRecord:
    """What one node did in this run."""

    status: str = SKIPPED
    seconds: float = 0.0
    started: Optional[float] = None
    work_seconds: float = 0.0
    work_started: Optional[float] = None
    beam_setup_seconds: float = 0.0

    def end_work(self, now: float) -> None:
        """The executor ended at `now`: its time, less Beam's set-up, is
        the node's work."""
        if self.work_started is not None:
            self.work_seconds = max(
                0.0, now - self.work_started - self.beam_setup_seconds)
            self.work_started = None

    @property
    def overhead_seconds(self) -> float:
        """The node's time outside its executor."""
        return max(0.0, self.seconds - self.work_seconds)


class ProgressHandler(logging.Handler):
    """Collects node records from log messages and reports finished nodes."""

    def __init__(self, node_ids, report: Callable[[str, NodeRecord], None],
                 clock: Callable[[], float] = time.monotonic,
                 on_work: Optional[Callable[[str], None]] = None):
        """`report` gets each node as it finishes; `on_work`, if given,
        the id of each node whose executor starts (not for a node found
        in the cache)."""
        super().__init__(level=logging.INFO)
        self._on_work = on_work
        self.records: Dict[str, NodeRecord] = {n: NodeRecord()
                                               for n in node_ids}
        self._report = report
        self._clock = clock
        self._current: Dict[int, str] = {}
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        working = None
        with self._lock:
            if match := _STARTED.match(message):
                node = self.records.setdefault(match[1], NodeRecord())
                node.started = self._clock()
                node.status = EXECUTED
                self._current[record.thread] = match[1]
            elif _CACHED.match(message):
                node_id = self._current.get(record.thread)
                if node_id:
                    self.records[node_id].status = CACHED
            elif _EXECUTOR_STARTS.match(message):
                node_id = self._current.get(record.thread)
                if node_id:
                    self.records[node_id].work_started = self._clock()
                    working = node_id
            elif _BEAM_RUNS.match(message):
                node = self._running_node(record.thread)
                if (node and node.work_started is not None
                        and not node.beam_setup_seconds):
                    # The first Beam pipeline of the executor starts.
                    node.beam_setup_seconds = (self._clock()
                                               - node.work_started)
            elif _EXECUTOR_ENDS.match(message):
                node_id = self._current.get(record.thread)
                if node_id:
                    self.records[node_id].end_work(self._clock())
            elif match := _FINISHED.match(message):
                node = self.records.setdefault(match[1], NodeRecord())
                now = self._clock()
                node.seconds = now - (node.started if node.started is not None
                                      else now)
                node.started = None
                self._current.pop(record.thread, None)
                self._report(match[1], node)
        if working and self._on_work:
            self._on_work(working)

    def _running_node(self, thread: int) -> Optional[NodeRecord]:
        """The node running in `thread`; Beam may log from its own thread,
        which is unambiguous while one node runs."""
        node_id = self._current.get(thread)
        if node_id is None and len(self._current) == 1:
            node_id = next(iter(self._current.values()))
        return self.records.get(node_id) if node_id else None

    def mark_unfinished_failed(self) -> None:
        """After a failure: nodes that started but never finished failed."""
        with self._lock:
            for node_id, node in self.records.items():
                if node.started is not None:
                    now = self._clock()
                    node.seconds = now - node.started
                    node.end_work(now)
                    node.started = None
                    node.status = FAILED
                    self._report(node_id, node)


def format_line(node_id: str, node: NodeRecord) -> str:
    """`  Trainer .................... executed   12.3 s  (overhead 0.1 s)`"""
    return (f"  {node_id:.<34} {node.status:<9}{node.seconds:8.1f} s"
            f"  (overhead {node.overhead_seconds:.1f} s)")
