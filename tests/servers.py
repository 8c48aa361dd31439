"""Waiting for a server the tests started as a process (MariaDB, MinIO,
Flink's JobManager and TaskManagers, Beam's job server) to answer, and
stopping it."""

import subprocess
import time
from typing import Callable, Sequence, Type


def wait_until_up(answers: Callable[[], object],
                  processes: Sequence[subprocess.Popen], seconds: float,
                  failure: str,
                  refused: Type[BaseException] = OSError,
                  poll_seconds: float = 0.5) -> None:
    """Calls `answers` until it returns without raising `refused` (and
    other than False).

    Raises:
      RuntimeError(failure): one of the server's `processes` ended first,
        or `seconds` passed.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            if answers() is not False:
                return
        except refused:
            pass
        if (any(p.poll() is not None for p in processes)
                or time.monotonic() > deadline):
            raise RuntimeError(failure)
        time.sleep(poll_seconds)


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM, then SIGKILL if the process has not ended in `seconds`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
