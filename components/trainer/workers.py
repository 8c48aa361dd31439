"""The Trainer's fresh processes on this machine: one (for CPU replicas),
or the workers of `--trainer-workers N`.

Each is `python -m components.trainer.fresh_process`. N workers are the
way a user tries multi-worker code before deploying it: N processes of
this machine, each with the `TF_CONFIG` that MultiWorkerMirroredStrategy
reads (a cluster of N workers on free loopback ports; worker 0 is the
chief). They are waited for together: when one fails, the others are
stopped and the Trainer fails with one message naming it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List

# How often the running workers are looked at.
_POLL_SECONDS = 0.2


class WorkerFailed(RuntimeError):
    """A training process ended with an error (the others were stopped)."""


def free_ports(count: int) -> List[int]:
    """`count` distinct free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(count: int) -> List[Dict]:
    """One TF_CONFIG per worker, of one cluster on loopback."""
    cluster = {"worker": [f"127.0.0.1:{port}"
                          for port in free_ports(count)]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}}
            for i in range(count)]


def run(request_path: str, count: int) -> None:
    """Trains on the request in `count` processes (workers, if more than
    one) and waits for all of them.

    Raises:
      WorkerFailed: one ended with an error; the others were stopped.
    """
    environments = ([dict(os.environ, TF_CONFIG=json.dumps(config))
                     for config in tf_configs(count)] if count > 1
                    else [None])
    processes = []
    try:
        for env in environments:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "components.trainer.fresh_process",
                 request_path, str(os.getpid())], env=env))
        while True:
            codes = [p.poll() for p in processes]
            failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                raise WorkerFailed(_failure(*failed[0], count))
            if all(c == 0 for c in codes):
                return
            time.sleep(_POLL_SECONDS)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _failure(index: int, code: int, count: int) -> str:
    """What a process that ended with `code` says."""
    killed = signal.Signals(-code).name if code < 0 else None
    if count > 1:
        return (f"Trainer worker {index} of {count} "
                + (f"was killed by {killed}" if killed
                   else f"failed with exit code {code}")
                + "; the other workers were stopped. Its log is above.")
    if killed:
        return (f"the training process was killed by {killed}"
                + (" (out of memory? lower --cache-budget-mib or the batch "
                   "size)" if -code == signal.SIGKILL else "")
                + "; its log is above.")
    return (f"training process failed with exit code {code}; its log "
            "is above.")
