"""Ending a command's process once its work is written."""

import sys
import traceback
from typing import Callable

from components import storage


def run_then_exit(main: Callable[[], None]) -> None:
    """Runs a command, then ends the process with its exit status.

    What a command starts, it stops itself before it returns (the local
    runner's waiting serving probe, the Trainer's process); the process
    then exits as `storage.end_process` ends it: `atexit` handlers and
    interpreter teardown included, without the slow collections of what
    TensorFlow and Beam made. The one exception is a process that used
    `s3://`, whose teardown would abort (see components/storage.py): its
    exit handlers run and it ends without the teardown, and an exception
    other than SystemExit has its traceback printed and status 1 there.
    """
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    except Exception:  # pylint: disable=broad-except
        if not storage.in_use():
            raise
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    storage.end_process(code)
