"""Live progress: one line per component, with its state from ML Metadata
and its timings from the orchestrators' own logs.

What a node did (executed, cached, failed) is read from ML Metadata, where
TFX records it: when the node finishes (`status_of`) and again for every
node once the run ends (`settle`). The logs give only what has no other
source: TFX's runners log when a node starts and finishes and its launcher
when the executor starts and ends, from which a logging handler times each
node. If TFX's wording changes, no line matches: the node's state is still
right, its time is then ML Metadata's (execution created to last updated)
with no work/overhead split, and `settle` names it. A node's work is its
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
from typing import Callable, Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

EXECUTED = "executed"
CACHED = "cached"
FAILED = "failed"
SKIPPED = "skipped"
RUNNING = "running"
# A node ML Metadata has no word for yet (shown live only).
UNKNOWN = "unknown"

_State = metadata_store_pb2.Execution.State
_STATUS = {_State.COMPLETE: EXECUTED, _State.CACHED: CACHED,
           _State.FAILED: FAILED, _State.CANCELED: FAILED}

_STARTED = re.compile(r"^(?:Component|node) (\S+) is running\.$")
_FINISHED = re.compile(r"^(?:Component|node) (\S+) is finished\.$")
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
    # Whether TFX's log gave the node's start and finish (its timings).
    logged: bool = False
    # When it started and finished, by the handler's clock (nodes may run
    # side by side: launching.py).
    began: Optional[float] = None
    ended: Optional[float] = None

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


def executor_starts(message: str) -> bool:
    """Whether a log message is TFX's saying that a node's executor starts
    (a node found in the cache logs none)."""
    return bool(_EXECUTOR_STARTS.match(message))


class ProgressHandler(logging.Handler):
    """Collects node records from log messages and reports finished nodes."""

    def __init__(self, node_ids, report: Callable[[str, NodeRecord], None],
                 status_of: Callable[[str], Optional[int]],
                 clock: Callable[[], float] = time.monotonic,
                 on_work: Optional[Callable[[str], None]] = None):
        """`report` gets each node as it finishes, with its status from
        `status_of(node_id)`: the `Execution.State` ML Metadata has for it
        in this run (None if none); `on_work`, if given, the id of each
        node whose executor starts (not for a node found in the cache)."""
        super().__init__(level=logging.INFO)
        self._status_of = status_of
        self._status_failed = False
        self._on_work = on_work
        self.records: Dict[str, NodeRecord] = {n: NodeRecord()
                                               for n in node_ids}
        self._report = report
        self._clock = clock
        self._current: Dict[int, str] = {}
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        working = finished = None
        with self._lock:
            if match := _STARTED.match(message):
                node = self.records.setdefault(match[1], NodeRecord())
                node.started = node.began = self._clock()
                node.status = RUNNING
                self._current[record.thread] = match[1]
            elif executor_starts(message):
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
                node.logged = node.started is not None
                node.seconds = now - (node.started if node.started is not None
                                      else now)
                node.started = None
                node.ended = now
                self._current.pop(record.thread, None)
                finished = match[1], node
        if finished:
            # Outside the lock: reading ML Metadata logs lines of its own.
            node_id, node = finished
            node.status = _STATUS.get(self._safe_status(node_id), UNKNOWN)
            self._report(node_id, node)
        if working and self._on_work:
            self._on_work(working)

    def _safe_status(self, node_id: str) -> Optional[int]:
        # A log handler must not raise into TFX: the state is read again
        # by `settle` once the run ends. The first failure is logged.
        try:
            return self._status_of(node_id)
        except Exception as error:  # pylint: disable=broad-except
            if not self._status_failed:
                self._status_failed = True
                logging.getLogger(__name__).warning(
                    "cannot read %s's state from ML Metadata while the run "
                    "goes on (%s: %s); its line says %s, the summary has "
                    "its state.", node_id, type(error).__name__, error,
                    UNKNOWN)
            return None

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
                    node.ended = now
                    node.logged = True
                    node.end_work(now)
                    node.started = None
                    node.status = FAILED
                    self._report(node_id, node)


def settle(records: Dict[str, NodeRecord],
           executions: Dict[str, metadata_store_pb2.Execution]) -> List[str]:
    """Sets every node's status from its execution in the run as ML
    Metadata recorded it (`executions`, node id -> execution): executed,
    cached or failed; a node that started (by its execution or the log)
    but never completed failed; one with neither was skipped. A node whose
    timings the log did not give is timed by its execution. Returns those
    nodes' ids."""
    untimed = []
    for node_id, record in records.items():
        execution = executions.get(node_id)
        if execution is None:
            record.status = (FAILED if record.status in (RUNNING, FAILED)
                             else SKIPPED)
            continue
        record.status = _STATUS.get(execution.last_known_state, FAILED)
        if not record.logged:
            record.seconds = max(0.0, (
                execution.last_update_time_since_epoch
                - execution.create_time_since_epoch) / 1000)
            record.work_seconds = record.beam_setup_seconds = 0.0
            untimed.append(node_id)
    return untimed


def format_line(node_id: str, node: NodeRecord) -> str:
    """`  Trainer .................... executed   12.3 s  (overhead 0.1 s)`"""
    return (f"  {node_id:.<34} {node.status:<9}{node.seconds:8.1f} s"
            f"  (overhead {node.overhead_seconds:.1f} s)")
