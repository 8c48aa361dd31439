"""Runs a command as a child subreaper and reports what outlived it.

  python -m tests.reaper OUTLIVED_FILE COMMAND...

This process asks Linux to become the parent of every orphan among its
descendants (PR_SET_CHILD_SUBREAPER), runs COMMAND, waits for it, and
writes to OUTLIVED_FILE, as JSON, the processes that are still its
children then: whatever the command started and left behind (running, or
exited and never waited for), or null if the command could not be run.
Those, and whatever they leave, are then killed and reaped. Exits with
the command's status (128 + N for a command killed by signal N).
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


def _stop_all(deadline_seconds: float = 10.0) -> None:
    """Kills and reaps every child, and the children those leave to this
    process in turn, until none is left or the deadline passes."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        left = children()
        if not left:
            return
        for child in left:
            if child["state"] != "Z":
                try:
                    os.kill(child["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.05)


def main() -> int:
    outlived_file, command = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    outlived = None
    try:
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        code = subprocess.call(command)
        outlived = children()
    finally:
        with open(outlived_file, "w", encoding="utf-8") as f:
            json.dump(outlived, f)
        _stop_all()
    # A command killed by a signal is reported as a shell would.
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
