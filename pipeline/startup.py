"""Starting a command's process: the line that says how long it took.

What a process need not import from TFX, and how it is deferred, is
`components/tfx_imports.py`.
"""

import re
import sys
import time
from typing import Optional, Tuple

# The line `report_startup` writes; the container tests read its figures.
STARTUP_LINE = "task start-up:"


def report_startup(reached: str) -> None:
    """Writes one stderr line: the seconds from process start (interpreter,
    imports) to `reached`, and when the process started (seconds since the
    epoch), so that a runner can tell a container's start from the task's
    own start-up."""
    from pipeline.reporting import console  # pylint: disable=import-outside-toplevel
    seconds = console.process_seconds()
    print(f"{STARTUP_LINE} {seconds:.3f} s from process start to {reached} "
          f"(process started at {time.time() - seconds:.3f})",
          file=sys.stderr, flush=True)


_LINE = re.compile(re.escape(STARTUP_LINE)
                   + r" ([0-9.]+) s .*\(process started at ([0-9.]+)\)")


def read_startup(text: str) -> Optional[Tuple[float, float]]:
    """(seconds from process start to work, when the process started) from
    the first line `report_startup` wrote in `text`; None if there is none."""
    match = _LINE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None
