"""Quiet console: full logs to a file, one line per component on screen.

Kept free of TensorFlow/TFX imports so the CLI can start capturing before
those imports print anything.
"""

import contextlib
import datetime
import logging
import os
import sys
from typing import Iterator, TextIO

from absl import logging as absl_logging


def process_seconds() -> float:
    """Seconds since this process started (interpreter start included),
    from /proc; 0.0 where there is none."""
    try:
        with open("/proc/self/stat", encoding="utf-8") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="utf-8") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))


def new_run_id() -> str:
    """A sortable, unique-enough run id, e.g. `20261126-160322-835292`."""
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


@contextlib.contextmanager
def capture_logs(log_path: str, verbose: bool) -> Iterator[TextIO]:
    """Sends Python, absl and TensorFlow C++ logs to `log_path`.

    When not verbose, file descriptors 1 and 2 themselves are pointed at the
    log file, so C++ logs, Keras's epoch lines and child processes (Beam
    workers, the Trainer's fresh process) land there too. Yields the console
    stream that progress lines are written to.
    """
    absl_logging.set_verbosity(absl_logging.INFO)
    root = logging.getLogger()
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    if verbose:
        try:
            yield sys.stdout
        finally:
            root.removeHandler(file_handler)
            file_handler.close()
            root.setLevel(old_level)
        return
    absl_handler = absl_logging.get_absl_handler()
    absl_attached = absl_handler in root.handlers
    if absl_attached:  # it writes to fd 2, which is the log file now
        root.removeHandler(absl_handler)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    for fd in saved:
        os.dup2(log_fd, fd)
    os.close(log_fd)
    console = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        console.close()
        root.removeHandler(file_handler)
        file_handler.close()
        root.setLevel(old_level)
        if absl_attached:
            root.addHandler(absl_handler)
