"""Live progress: one line per component, from the orchestrators' own logs.

TFX's runners log when a node starts and finishes, and its launcher logs
whether it found a cached execution; a logging handler turns those into
`(node, status, seconds)` records and prints one line per finished node.
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


@dataclasses.dataclass
class NodeRecord:
    """What one node did in this run."""

    status: str = SKIPPED
    seconds: float = 0.0
    started: Optional[float] = None


class ProgressHandler(logging.Handler):
    """Collects node records from log messages and reports finished nodes."""

    def __init__(self, node_ids, report: Callable[[str, NodeRecord], None],
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(level=logging.INFO)
        self.records: Dict[str, NodeRecord] = {n: NodeRecord()
                                               for n in node_ids}
        self._report = report
        self._clock = clock
        self._current: Dict[int, str] = {}
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
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
            elif match := _FINISHED.match(message):
                node = self.records.setdefault(match[1], NodeRecord())
                now = self._clock()
                node.seconds = now - (node.started if node.started is not None
                                      else now)
                node.started = None
                self._current.pop(record.thread, None)
                self._report(match[1], node)

    def mark_unfinished_failed(self) -> None:
        """After a failure: nodes that started but never finished failed."""
        with self._lock:
            for node_id, node in self.records.items():
                if node.started is not None:
                    node.seconds = self._clock() - node.started
                    node.started = None
                    node.status = FAILED
                    self._report(node_id, node)


def format_line(node_id: str, node: NodeRecord) -> str:
    """`  Trainer .................... executed   12.3 s`"""
    return f"  {node_id:.<34} {node.status:<9}{node.seconds:8.1f} s"
