"""The Trainer across workers: `run --trainer-workers 2` on this machine."""

import json
import os
import threading
import time

import pytest

from pipeline import nodes
from tests.pipeline import helpers

pytestmark = pytest.mark.slow


def _worker_pids(index):
    """The local Trainer worker processes of `index`, by their TF_CONFIG."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"components.trainer.fresh_process" not in f.read():
                    continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(item.split(b"=", 1) for item in f.read().split(
                    b"\0") if b"=" in item)
        except OSError:
            continue
        config = json.loads(env.get(b"TF_CONFIG", b"{}") or b"{}")
        if config.get("task", {}).get("index") == index:
            found.append(int(entry))
    return found


def test_two_workers_train_together_and_push(tmp_path, tfds_data_dir):
    output = tmp_path / "out"
    result = helpers.run_cli(helpers.cli_args(
        output, tfds_data_dir, "--trainer-workers", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = helpers.read_summary(output / "last_run.json")
    assert summary["blessed"] and summary["pushed_model"]
    helpers.check_signatures(summary["pushed_model"])
    [record] = helpers.training_records(output)
    assert record["strategy"] == "MultiWorkerMirroredStrategy"
    assert len(record["workers"]) == 2
    assert record["num_replicas_in_sync"] == 2
    assert record["global_batch_size"] == 2 * 64
    # XLA has no CPU collectives: the step is left uncompiled.
    assert record["model"]["jit_compile"] is False
    # One record, one model: only the chief wrote what training leaves.
    model_dirs = os.listdir(os.path.join(
        output, "pipeline_root", nodes.TRAINER, "model"))
    assert len(model_dirs) == 1


def test_a_worker_that_dies_fails_the_run_clearly(
        tmp_path, tfds_data_dir):
    killed = []

    def kill_worker_1():
        deadline = time.monotonic() + 600
        while not killed and time.monotonic() < deadline:
            for pid in _worker_pids(1):
                os.kill(pid, 9)
                killed.append(pid)
            time.sleep(0.2)

    killer = threading.Thread(target=kill_worker_1, daemon=True)
    killer.start()
    result = helpers.run_cli(helpers.cli_args(
        tmp_path / "out", tfds_data_dir, "--trainer-workers", "2"))
    killer.join(timeout=5)
    assert killed
    assert result.returncode == 1
    assert "Trainer worker 1 of 2 was killed by SIGKILL" in result.stderr
