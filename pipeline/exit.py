"""Ending a command's process once its work is written."""

import sys
import traceback
from typing import Callable

from components import process
from components import storage


def run_then_exit(main: Callable[[], None]) -> None:
    """Runs a command, then ends the process without interpreter teardown.

    After a pipeline run, Python's own shutdown (finalising TensorFlow,
    Beam and gRPC objects) took 3.4 s here before the shell got its
    prompt back, for nothing: every file is written and closed by then.
    So once the command has returned or raised SystemExit (click's way to
    exit), logs and standard streams are flushed and the process ends with
    the command's exit status. Any other exception propagates as usual,
    except in a process that used `s3://`, where the teardown would abort
    (see components/storage.py): there its traceback is printed and the
    status is 1.
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
    process.hard_exit(code)
