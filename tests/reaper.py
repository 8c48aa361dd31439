"""Runs a command as a child subreaper and reports what outlived it.

  python -m tests.reaper OUTLIVED_FILE COMMAND...

This process asks Linux to become the parent of every orphan among its
descendants (PR_SET_CHILD_SUBREAPER), runs COMMAND, waits for it, and
writes to OUTLIVED_FILE, as JSON, the processes that are still its
children then: whatever the command started and left behind (running, or
exited and never waited for). Those are then killed and reaped. Exits
with the command's status.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children() -> list:
    """This process's children: pid, state and command line."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                # pid (comm) state ppid ...; comm may hold spaces.
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(ppid) == os.getpid():
            found.append({"pid": int(entry), "state": state,
                          "cmdline": cmdline})
    return found


def main() -> int:
    outlived_file, command = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    code = subprocess.call(command)
    outlived = children()
    with open(outlived_file, "w", encoding="utf-8") as f:
        json.dump(outlived, f)
    for child in outlived:
        try:
            os.kill(child["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while children() and time.monotonic() < deadline:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    return code


if __name__ == "__main__":
    sys.exit(main())
