"""The local scheduler's loop and the run lock, without pipeline runs."""

import datetime
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline.scheduling import cron
from pipeline.runners import output_lock
from pipeline.scheduling import local as scheduler
from tests.pipeline import helpers

START = datetime.datetime(2026, 11, 26, 17, 59, tzinfo=datetime.timezone.utc)


class FakeTime:
    """A clock that only moves when slept on (or told to)."""

    def __init__(self, now=START):
        self.now = now

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


def _loop(expression, codes, fake, lines, run_hours=0.0, **kwargs):
    started = []
    results = iter(codes)

    def run_once(register):
        register(None)
        started.append(fake.now)
        fake.sleep(run_hours * 3600)
        return next(results)

    loop = scheduler.Scheduler(expression, run_once, echo=lines.append,
                               clock=fake.clock, sleep=fake.sleep, **kwargs)
    return loop, started


def test_runs_at_each_tick_and_goes_on_after_a_failure():
    fake, lines = FakeTime(), []
    loop, started = _loop("0 * * * *", [0, 1, 0], fake, lines, max_runs=3)
    assert loop.loop() == [0, 1, 0]
    assert [t.hour for t in started] == [18, 19, 20]
    assert all(t.minute == 0 for t in started)
    assert any("run FAILED (exit 1)" in line and "the schedule goes on" in line
               for line in lines)
    assert lines[-1] == "schedule stopped"


def test_ticks_missed_during_a_long_run_are_skipped_not_caught_up():
    fake, lines = FakeTime(), []
    loop, started = _loop("0 * * * *", [0, 0], fake, lines, run_hours=2.5,
                          max_runs=2)
    loop.loop()
    # The first run ends at 20:30; 19:00 and 20:00 are not run late.
    assert [t.hour for t in started] == [18, 21]


def test_run_now_then_the_schedule():
    fake, lines = FakeTime(), []
    loop, started = _loop("@daily", [0, 0], fake, lines, max_runs=2,
                          run_now=True)
    loop.loop()
    assert started == [START, START.replace(hour=0, minute=0)
                       + datetime.timedelta(days=1)]


def test_a_signal_stops_after_the_current_run_a_second_one_stops_it():
    fake, lines = FakeTime(), []

    class Child:
        terminated = False

        def stop(self):
            self.terminated = True

    child = Child()

    def run_once(register):
        register(child)
        loop.stop()  # SIGTERM while the run goes on...
        assert not child.terminated
        loop.stop()  # ...and a second one.
        return -15

    loop = scheduler.Scheduler("* * * * *", run_once, echo=lines.append,
                               clock=fake.clock, sleep=fake.sleep)
    assert loop.loop() == [-15]
    assert child.terminated
    assert "Stopping after the current run" in " ".join(lines)


# A run that starts a worker (as Beam and the Trainer do) and keeps going;
# the worker ignores SIGTERM and appends to a file until it is killed.
WORKER = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    with open(sys.argv[1], "a") as f:
        f.write("x")
    time.sleep(0.05)
"""
RUN = """
import os, subprocess, sys, time
out = sys.argv[1]
worker = subprocess.Popen([sys.executable, os.path.join(out, "worker.py"),
                           os.path.join(out, "worker.log")])
with open(os.path.join(out, "pids"), "w") as f:
    f.write(f"{os.getpid()} {worker.pid}")
time.sleep(600)
"""


def _tree(tmp_path, run=RUN):
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "run.py").write_text(run)
    return scheduler.run_command(
        [str(tmp_path)], command=[sys.executable, str(tmp_path / "run.py")],
        grace=1.0)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_second_signal_stops_the_runs_whole_process_tree(tmp_path):
    lines = []
    loop = scheduler.Scheduler("0 0 1 1 *", _tree(tmp_path),
                               echo=lines.append, max_runs=1, run_now=True)
    pids = tmp_path / "pids"

    def stop_when_started():
        deadline = time.monotonic() + 60
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        loop.stop()
        loop.stop()

    stopper = threading.Thread(target=stop_when_started)
    stopper.start()
    codes = loop.loop()
    stopper.join()
    run_pid, worker_pid = map(int, pids.read_text().split())
    assert codes == [-signal.SIGTERM]
    assert not _alive(run_pid) and not _alive(worker_pid)
    written = (tmp_path / "worker.log").stat().st_size
    time.sleep(0.5)
    assert (tmp_path / "worker.log").stat().st_size == written
    assert "Stopping the current run." in lines


def test_workers_a_run_leaves_behind_are_ended_with_it(tmp_path):
    """A run that exits on its own but leaves a worker running: the worker
    is ended before the next tick could start a run."""
    run_once = _tree(tmp_path, RUN.replace("time.sleep(600)", "sys.exit(0)"))
    assert run_once(lambda group: None) == 0
    _, worker_pid = map(int, (tmp_path / "pids").read_text().split())
    assert not _alive(worker_pid)


def test_invalid_cron_is_refused_with_the_expression_named():
    with pytest.raises(cron.CronError, match=r"'0 3 \* \*' is not valid"):
        scheduler.Scheduler("0 3 * *", lambda register: 0)
    assert cron.for_kfp("@daily") == "0 0 0 * * *"
    assert cron.parse("  0   3 * *  mon-fri ") == "0 3 * * mon-fri"


def test_a_second_run_is_refused_while_one_holds_the_output_dir(tmp_path):
    with output_lock.exclusive(str(tmp_path)):
        with pytest.raises(output_lock.Busy,
                           match=rf"another pipeline run or rollback \(pid "
                                 rf"{os.getpid()}\)"):
            with output_lock.exclusive(str(tmp_path)):
                pass


def test_a_killed_run_does_not_leave_the_lock_held(tmp_path):
    holder = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-c",
         "import sys, time\n"
         "from pipeline.runners import output_lock\n"
         f"with output_lock.exclusive({str(tmp_path)!r}):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(120)\n"],
        cwd=helpers.REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(output_lock.Busy, match="another pipeline run"):
        with output_lock.exclusive(str(tmp_path)):
            pass
    holder.kill()
    holder.wait()
    with output_lock.exclusive(str(tmp_path)):
        pass  # Free again: the kernel released the dead holder's lock.


def test_local_schedule_stops_cleanly_on_sigterm(tmp_path):
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "pipeline", "schedule", "--target", "local",
         "--cron", "0 3 * * *", "--output-dir", str(tmp_path / "out")],
        cwd=helpers.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    deadline = time.monotonic() + 120
    first = process.stdout.readline()
    assert first.startswith("Scheduling fashion-mnist-classifier"), (
        first, process.stderr.read() if process.poll() is not None else "")
    assert "next run at" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=max(1, deadline - time.monotonic()))
    assert process.returncode == 0, err
    assert "schedule stopped" in out and "0 run(s), 0 failed." in out


@pytest.mark.parametrize("args,message", [
    (["--cron", "0 3 * *"], "cron expression '0 3 * *' is not valid"),
    (["--cron", "@daily", "--epochs", "0"], "epochs must be a positive"),
    (["--cron", "@daily", "--once-if-changed"], "not both"),
    ([], "--cron EXPR"),
    (["--cron", "@daily", "--package", "p.yaml"],
     "--package does not apply to --target local"),
])
def test_bad_local_schedules_are_refused_before_any_run(tmp_path, args,
                                                       message):
    result = helpers.run_cli(
        [sys.executable, "-m", "pipeline", "schedule", "--target", "local",
         *args, "--output-dir", str(tmp_path / "out")], timeout=120)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
    assert not (tmp_path / "out" / "metadata.sqlite").exists()
