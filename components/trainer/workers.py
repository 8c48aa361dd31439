"""The Trainer's workers on this machine: `--trainer-workers N` locally.

The way a user tries multi-worker code before deploying it: N processes
of this machine (`python -m components.trainer.fresh_process`), each with
the `TF_CONFIG` that MultiWorkerMirroredStrategy reads (a cluster of N
workers on free loopback ports; worker 0 is the chief). They are waited
for together: when one fails, the others are stopped and the Trainer
fails with one message naming it.
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
    """A worker ended with an error (the others were stopped)."""


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
    """Runs `count` workers on the request and waits for all of them.

    Raises:
      WorkerFailed: one ended with an error; the others were stopped.
    """
    processes = []
    try:
        for config in tf_configs(count):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "components.trainer.fresh_process",
                 request_path, str(os.getpid())],
                env=dict(os.environ, TF_CONFIG=json.dumps(config))))
        while True:
            codes = [p.poll() for p in processes]
            failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                index, code = failed[0]
                raise WorkerFailed(
                    f"Trainer worker {index} of {count} "
                    + (f"was killed by {signal.Signals(-code).name}"
                       if code < 0 else f"failed with exit code {code}")
                    + "; the other workers were stopped. Its log is above.")
            if all(c == 0 for c in codes):
                return
            time.sleep(_POLL_SECONDS)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
