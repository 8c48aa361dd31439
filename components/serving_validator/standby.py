"""A probe process started before it is needed.

A fresh probe process pays Python's start and TensorFlow's import before
it can load a model (docs/performance.md). Where the Evaluator and the
ServingValidator share a process (the local runners, and the Kubeflow
package's evaluate-and-push task), the runner starts one while the
Evaluator runs, which leaves the second core idle (`beside_evaluator`), and
the ServingValidator hands its request to it. It is the same fresh process,
importing what probe.py says and nothing else, that waited for the request
instead of being started for it. Where the ServingValidator runs alone
(a container of its own) nothing starts early and the probe starts when it
is asked for.

A waiting process that is never asked (the model was not blessed, the run
failed) is stopped by `discard`, and in any case ends by itself when its
parent does: its standard input closes.
"""

import atexit
import logging
import os
import subprocess
import sys
import threading
from typing import Optional, Tuple

COMMAND = (sys.executable, "-m", "components.serving_validator.probe",
           "--standby")

_lock = threading.Lock()
_waiting: Optional[subprocess.Popen] = None


# Where cgroup v2 keeps this process's CPU quota: "max PERIOD" or
# "QUOTA PERIOD" (microseconds), as Kubernetes' CPU limit and
# `podman --cpus` set it.
CPU_MAX = "/sys/fs/cgroup/cpu.max"


def spare_core() -> bool:
    """Whether this process may use more than one CPU: its affinity (which
    a container's CPU set limits; not the host's count) and its cgroup's
    CPU quota (a pod's CPU limit), where there is one."""
    if len(os.sched_getaffinity(0)) < 2:
        return False
    try:
        with open(CPU_MAX, encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        return quota == "max" or int(quota) >= 2 * int(period)
    except (OSError, ValueError):
        return True  # no cgroup v2 quota to go by: the affinity says


def start_early() -> None:
    """Starts a probe process that waits for the next request; a no-op if
    one is already waiting."""
    global _waiting  # pylint: disable=global-statement
    with _lock:
        if _waiting is None or _waiting.poll() is not None:
            _waiting = start()


def beside_evaluator() -> None:
    """Called as the Evaluator starts its work in the process that runs the
    ServingValidator next: starts the probe's process early if this process
    may use a second core. A speed-up only: if it cannot start, the check
    starts its process when it runs."""
    if not spare_core():
        return
    try:
        start_early()
    except OSError as error:
        logging.warning("could not start the serving check's process "
                        "early: %s", error)


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
