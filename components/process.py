"""Ending a process without the interpreter's teardown (finalising
TensorFlow, Beam and gRPC objects), once its work is written: for the
commands (`pipeline/exit.py`) and for the processes `components/storage.py`
must end that way."""

import logging
import os
import sys


def hard_exit(code: int) -> None:
    """Flushes logs and standard streams, then ends the process with
    `code`, skipping the teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)  # pylint: disable=protected-access
