"""Scheduled retraining on this machine: a run at every cron tick.

`Scheduler.loop()` waits for each tick of a cron expression and starts one
pipeline run (by default `python -m pipeline run ...` as a child process, so
a crash or a leak in one run cannot take the schedule down). Never two at
once: the loop waits for its run, and the run itself takes the output dir's
lock (`output_lock.exclusive`), so a run started by hand meanwhile makes
the tick fail and be logged, not overlap. Ticks missed while a run was going
are skipped, not caught up. A failed run is logged and the schedule goes on.
The first SIGINT/SIGTERM stops scheduling after the current run; a second one
stops that run too: the run's whole process group (Beam workers, the
Trainer's process), so that nothing of it goes on writing once the run's
lock is released, and nothing of a run outlives it into the next tick.
"""

import datetime
import os
import signal
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence

from pipeline.scheduling import cron


def local_now() -> datetime.datetime:
    """Now, in this machine's time zone: cron times are local, as in cron."""
    return datetime.datetime.now().astimezone()


class Scheduler:
    """Runs `run_once` at each tick of `expression`.

    Args:
      expression: a five-field cron expression (validated here).
      run_once: starts one run and returns its exit code; given a callback
        that registers the running run (anything with a `stop()`, e.g. a
        `ProcessGroup`), if any, for a second signal to stop.
      echo: where the log lines go.
      clock, sleep: injectable for tests.
      max_runs: stop after this many runs (None: run until stopped).
      run_now: start one run right away, then follow the schedule.
    """

    def __init__(self, expression: str,
                 run_once: Callable[[Callable], int],
                 echo: Callable[[str], None] = print,
                 clock: Callable[[], datetime.datetime] = local_now,
                 sleep: Callable[[float], None] = time.sleep,
                 max_runs: Optional[int] = None, run_now: bool = False):
        self.expression = cron.parse(expression)
        self._run_once = run_once
        self._echo = echo
        self._clock = clock
        self._sleep = sleep
        self._max_runs = max_runs
        self._run_now = run_now
        self._stopping = False
        self._child = None
        self.exit_codes: List[int] = []

    def stop(self, signum=None, frame=None) -> None:  # pylint: disable=unused-argument
        """First call: no more runs. Second call: also stop the run."""
        if self._stopping and self._child is not None:
            self._echo("Stopping the current run.")
            self._child.stop()
            return
        self._stopping = True
        if self._child is not None:
            self._echo("Stopping after the current run (signal again to "
                       "stop it now).")

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)

    def _wait_until(self, when: datetime.datetime) -> bool:
        """Sleeps until `when`; False if stopped first."""
        while not self._stopping:
            left = (when - self._clock()).total_seconds()
            if left <= 0:
                return True
            self._sleep(min(left, 1.0))
        return False

    def _register(self, child) -> None:
        self._child = child

    def _one_run(self) -> None:
        started = self._clock()
        self._echo(f"{started:%Y-%m-%d %H:%M:%S} run starts")
        try:
            code = self._run_once(self._register)
        except Exception as error:  # pylint: disable=broad-except
            self._echo(f"run could not start: {type(error).__name__}: "
                       f"{error}")
            code = -1
        finally:
            self._child = None
        self.exit_codes.append(code)
        seconds = (self._clock() - started).total_seconds()
        if code == 0:
            self._echo(f"run finished in {seconds:.0f} s")
        else:
            self._echo(f"run FAILED (exit {code}) after {seconds:.0f} s; "
                       "the schedule goes on")

    def _done(self) -> bool:
        return self._stopping or (self._max_runs is not None and len(
            self.exit_codes) >= self._max_runs)

    def loop(self) -> List[int]:
        """Runs until stopped or `max_runs`; returns the runs' exit codes."""
        if self._run_now and not self._done():
            self._one_run()
        while not self._done():
            # From now, not from the last tick: missed ticks are skipped.
            tick = next(cron.ticks(self.expression, self._clock()))
            self._echo(f"next run at {tick:%Y-%m-%d %H:%M} "
                       f"({self.expression})")
            if not self._wait_until(tick):
                break
            self._one_run()
        self._echo("schedule stopped")
        return self.exit_codes


class ProcessGroup:
    """A run started in a session of its own: its process and everything
    that process starts share one process group, stopped as one.

    Args:
      command: the run's command line.
      grace: seconds a stopped run gets to exit after SIGTERM before the
        group is sent SIGKILL.
    """

    def __init__(self, command: Sequence[str], grace: float = 10.0):
        # A session of its own, so a Ctrl-C at the terminal reaches the
        # scheduler (which lets the run finish) and not the run itself.
        self._process = subprocess.Popen(  # pylint: disable=consider-using-with
            list(command), start_new_session=True)
        self.pgid = self._process.pid
        self._grace = grace
        self._kill_at: Optional[float] = None

    def stop(self) -> None:
        """SIGTERM to the whole group; SIGKILL after the grace period."""
        self._signal(signal.SIGTERM)
        self._kill_at = time.monotonic() + self._grace

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            pass  # Nothing left in the group.

    def members(self) -> List[int]:
        """The group's live (not zombie) processes, from /proc."""
        alive = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", encoding="utf-8") as f:
                    # pid (comm) state ppid pgrp ...; comm may hold spaces.
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # Gone meanwhile.
            if fields[0] != "Z" and int(fields[2]) == self.pgid:
                alive.append(int(name))
        return alive

    def wait(self) -> int:
        """Waits for the run, then ends whatever it left running in its
        group; returns the run's exit code."""
        while True:
            try:
                code = self._process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self._kill_at and time.monotonic() > self._kill_at:
                    self._signal(signal.SIGKILL)
        if self.members():
            self.stop()
            while self.members():
                if time.monotonic() > self._kill_at:
                    self._signal(signal.SIGKILL)
                time.sleep(0.1)
        return code


def run_command(args: List[str], command: Sequence[str] = (
        sys.executable, "-m", "pipeline", "run"),
                grace: float = 10.0) -> Callable[[Callable], int]:
    """A `run_once` that runs `python -m pipeline run ARGS` (or `command`
    ARGS) as a `ProcessGroup`."""
    def run_once(register: Callable) -> int:
        group = ProcessGroup([*command, *args], grace=grace)
        register(group)
        return group.wait()
    return run_once
