"""The probe process started ahead of need: the same fresh process, asked
through its standard input; nothing is left running."""

import json
import subprocess
import time

import pytest

from components.serving_validator import standby


@pytest.fixture(autouse=True)
def _nothing_waiting():
    standby.discard()
    yield
    standby.discard()


def test_the_process_started_early_is_the_one_handed_out():
    standby.start_early()
    waiting = standby._waiting  # pylint: disable=protected-access
    standby.start_early()  # one is waiting already: no second process
    assert standby._waiting is waiting  # pylint: disable=protected-access
    assert standby.process() == (waiting, True)
    assert standby._waiting is None  # pylint: disable=protected-access
    fresh, early = standby.process()  # none waits now: a new one
    assert fresh is not waiting and not early
    for process in (waiting, fresh):
        process.kill()
        process.communicate()


def test_a_waiting_process_that_died_is_not_handed_out():
    standby.start_early()
    dead = standby._waiting  # pylint: disable=protected-access
    dead.kill()
    dead.communicate()
    process, early = standby.process()
    assert process is not dead and process.poll() is None and not early
    process.kill()
    process.communicate()


def test_discard_stops_the_waiting_process():
    standby.start_early()
    waiting = standby._waiting  # pylint: disable=protected-access
    standby.discard()
    assert waiting.poll() is not None
    assert standby._waiting is None  # pylint: disable=protected-access


def test_a_waiting_probe_ends_quietly_when_nobody_asks():
    process = subprocess.Popen(standby.COMMAND, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate("", timeout=120)
    assert process.returncode == 0, stderr[-2000:]


def test_a_request_without_a_model_is_a_usage_error():
    process, _ = standby.process()
    _, stderr = process.communicate(
        json.dumps(["--requests", "x", "--output", "y"]) + "\n", timeout=120)
    assert process.returncode == 2
    assert "--model required" in stderr


def test_beside_the_evaluator_only_with_a_second_core(monkeypatch):
    monkeypatch.setattr(standby, "spare_core", lambda: False)
    standby.beside_evaluator()
    assert standby._waiting is None  # pylint: disable=protected-access
    monkeypatch.setattr(standby, "spare_core", lambda: True)
    standby.beside_evaluator()
    assert standby._waiting.poll() is None  # pylint: disable=protected-access


def test_a_process_that_cannot_start_early_is_only_a_warning(monkeypatch,
                                                             caplog):
    def refused():
        raise OSError("no more processes")

    monkeypatch.setattr(standby, "spare_core", lambda: True)
    monkeypatch.setattr(standby, "start", refused)
    standby.beside_evaluator()
    assert standby._waiting is None  # pylint: disable=protected-access
    assert "no more processes" in caplog.text


@pytest.mark.parametrize("cpu_max, spare", [
    ("max 100000\n", True),
    ("200000 100000\n", True),   # a limit of 2 CPUs
    ("150000 100000\n", False),  # 1.5: the probe would take the Evaluator's
    ("100000 100000\n", False),
    (None, True),                # no cgroup v2 file: the affinity says
])
def test_a_cpu_limit_below_two_leaves_no_spare_core(tmp_path, monkeypatch,
                                                    cpu_max, spare):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max, encoding="ascii")
    monkeypatch.setattr(standby, "CPU_MAX", str(path))
    monkeypatch.setattr(standby.os, "sched_getaffinity", lambda _: {0, 1})
    assert standby.spare_core() is spare
    monkeypatch.setattr(standby.os, "sched_getaffinity", lambda _: {0})
    assert standby.spare_core() is False
