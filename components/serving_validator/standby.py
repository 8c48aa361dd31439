"""A probe process started before it is needed.

A fresh probe process pays Python's start and TensorFlow's import before
it can load a model (docs/performance.md). Where the nodes of a run share one
process (the local runners), the runner starts one while the Evaluator
runs, which leaves the second core idle, and the ServingValidator hands its
request to it. It is the same fresh process, importing what probe.py says
and nothing else, that waited for the request instead of being started for it. Where
each node has a container of its own (Kubeflow, Vertex) nothing starts
early and the probe starts when it is asked for, as it always did.

A waiting process that is never asked (the model was not blessed, the run
failed) is stopped by `discard`, and in any case ends by itself when its
parent does: its standard input closes.
"""

import atexit
import os
import subprocess
import sys
import threading
from typing import Optional, Tuple

COMMAND = (sys.executable, "-m", "components.serving_validator.probe",
           "--standby")

_lock = threading.Lock()
_waiting: Optional[subprocess.Popen] = None


def spare_core() -> bool:
    """Whether this process may use more than one CPU (its affinity, which
    a container's CPU set limits; not the host's count)."""
    return len(os.sched_getaffinity(0)) > 1


def start_early() -> None:
    """Starts a probe process that waits for the next request; a no-op if
    one is already waiting."""
    global _waiting  # pylint: disable=global-statement
    with _lock:
        if _waiting is None or _waiting.poll() is not None:
            _waiting = start()


def process() -> Tuple[subprocess.Popen, bool]:
    """The waiting probe process, or else a new one, and whether it was
    started early; the caller owns it and sends it one request (see
    `probe.main`)."""
    global _waiting  # pylint: disable=global-statement
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is not None and waiting.poll() is None:
        return waiting, True
    return start(), False


def discard() -> None:
    """Stops the waiting process, if any."""
    global _waiting  # pylint: disable=global-statement
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is not None and waiting.poll() is None:
        waiting.kill()
        waiting.communicate()


def start() -> subprocess.Popen:
    """A new probe process, waiting for its request."""
    return subprocess.Popen(COMMAND, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


atexit.register(discard)
