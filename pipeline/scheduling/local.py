"""Scheduled retraining on this machine: a run at every cron tick.

`Scheduler.loop()` waits for each tick of a cron expression and starts one
pipeline run (by default `python -m pipeline run ...` as a child process, so
a crash or a leak in one run cannot take the schedule down). Never two at
once: the loop waits for its run, and the run itself takes the output dir's
lock (`local_runner.exclusive`), so a run started by hand meanwhile makes
the tick fail and be logged, not overlap. Ticks missed while a run was going
are skipped, not caught up. A failed run is logged and the schedule goes on.
The first SIGINT/SIGTERM stops scheduling after the current run; a second one
stops that run too.
"""

import datetime
import signal
import subprocess
import sys
import time
from typing import Callable, List, Optional

from pipeline.scheduling import cron


def local_now() -> datetime.datetime:
    """Now, in this machine's time zone: cron times are local, as in cron."""
    return datetime.datetime.now().astimezone()


class Scheduler:
    """Runs `run_once` at each tick of `expression`.

    Args:
      expression: a five-field cron expression (validated here).
      run_once: starts one run and returns its exit code; given a callback
        that registers the running child process, if any, for a second
        signal to stop.
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
        self._child: Optional[subprocess.Popen] = None
        self.exit_codes: List[int] = []

    def stop(self, signum=None, frame=None) -> None:  # pylint: disable=unused-argument
        """First call: no more runs. Second call: also stop the run."""
        if self._stopping and self._child is not None:
            self._echo("Stopping the current run.")
            self._child.terminate()
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

    def _register(self, child: Optional[subprocess.Popen]) -> None:
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


def run_command(args: List[str]) -> Callable[[Callable], int]:
    """A `run_once` that runs `python -m pipeline run ARGS` as a child.

    The child gets its own session, so a Ctrl-C at the terminal reaches the
    scheduler (which lets the run finish) and not the run itself.
    """
    def run_once(register: Callable) -> int:
        child = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", "pipeline", "run", *args],
            start_new_session=True)
        register(child)
        return child.wait()
    return run_once
