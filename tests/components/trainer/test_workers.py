"""The local Trainer workers' cluster."""

import os
import subprocess
import sys
import time

import pytest

import pipeline_config as pc
from components.trainer import workers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_one_cluster_of_distinct_loopback_ports_one_task_each():
    configs = workers.tf_configs(3)
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster for c in configs)
    assert len(set(cluster["worker"])) == 3
    assert all(a.startswith("127.0.0.1:") for a in cluster["worker"])
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": i} for i in range(3)]


def test_workers_and_cpu_replicas_are_refused_together():
    with pytest.raises(pc.ConfigError, match="cannot be combined"):
        pc.TrainingConfig(workers=2, cpu_replicas=2)
    with pytest.raises(pc.ConfigError, match="workers must be a positive"):
        pc.TrainingConfig(workers=0)


class _Resolved:
    def __init__(self, task_type, task_id, cluster):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        spec = tf.train.ClusterSpec(cluster)
        self.cluster_resolver = type("R", (), {
            "task_type": task_type, "task_id": task_id,
            "cluster_spec": lambda self: spec})()


def test_the_chief_is_the_chief_task_or_else_the_first_worker():
    from components.trainer import distribution  # pylint: disable=import-outside-toplevel
    local = {"worker": ["a:1", "b:1"]}
    assert distribution.is_chief(_Resolved("worker", 0, local))
    assert not distribution.is_chief(_Resolved("worker", 1, local))
    # Vertex and a TFJob name a chief task: worker 0 is then not it (two
    # writers of the model would race).
    with_chief = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    assert distribution.is_chief(_Resolved("chief", 0, with_chief))
    assert not distribution.is_chief(_Resolved("worker", 0, with_chief))
    assert not distribution.is_chief(_Resolved("worker", 1, with_chief))
    assert distribution.is_chief(object())  # one process


def test_a_tf_config_for_other_workers_is_named(monkeypatch):
    from components.trainer import distribution  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"chief": ["a:1"], '
                       '"worker": ["b:1"]}, "task": {"type": "chief", '
                       '"index": 0}}')
    with pytest.raises(RuntimeError, match="3 Trainer workers are "
                       "configured but TF_CONFIG names 2"):
        distribution.make_strategy(workers=3)
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(RuntimeError, match="TF_CONFIG names 0"):
        distribution.make_strategy(workers=2)


def test_the_workers_strategy_has_no_timeout_per_collective(monkeypatch):
    """A timeout per collective starts a thread per collective operation:
    two workers on Fashion-MNIST reached 30,000 threads and aborted. The
    bounded waits are the coordination service's instead."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from tensorflow.python.eager import context  # pylint: disable=import-outside-toplevel
    from components.trainer import distribution  # pylint: disable=import-outside-toplevel
    made, configured = [], []
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy",
                        lambda *args, **kwargs: made.append(kwargs) or "s")
    monkeypatch.setattr(type(context.context()),
                        "configure_coordination_service",
                        lambda self, **kwargs: configured.append(kwargs))
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:1"]},'
                       ' "task": {"type": "worker", "index": 1}}')
    assert distribution.make_strategy(workers=2) == "s"
    [kwargs] = made
    assert set(kwargs) == {"cluster_resolver"}
    [coordination] = configured
    assert coordination["heartbeat_timeout_in_ms"] == (
        distribution.HEARTBEAT_TIMEOUT_SECONDS * 1000)
    assert coordination["cluster_register_timeout_in_ms"] == (
        distribution.JOIN_TIMEOUT_SECONDS * 1000)
    # A cluster's replicas get longer, through their environment.
    monkeypatch.setenv(distribution.JOIN_TIMEOUT_ENV, "1800")
    distribution.make_strategy(workers=2)
    assert configured[-1]["cluster_register_timeout_in_ms"] == 1_800_000
    monkeypatch.setenv(distribution.JOIN_TIMEOUT_ENV, "soon")
    with pytest.raises(RuntimeError, match=(
            "PIPELINE_TRAINER_JOIN_TIMEOUT_SECONDS='soon' is not a whole")):
        distribution.make_strategy(workers=2)
    assert coordination["service_leader"] == "/job:worker/replica:0/task:0"
    assert [(j.name, j.num_tasks) for j in coordination[
        "coordinated_jobs"]] == [("worker", 2)]


_LONE_WORKER = """
import json, os, sys
from components.trainer import distribution
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": sys.argv[1:]},
                                      "task": {"type": "worker", "index": 0}})
os.environ[distribution.JOIN_TIMEOUT_ENV] = "5"
distribution.make_strategy(workers=2)
print("joined")
"""


@pytest.mark.slow
def test_a_worker_whose_peer_never_joins_ends_in_bounded_time():
    addresses = [f"127.0.0.1:{p}" for p in workers.free_ports(2)]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", _LONE_WORKER, *addresses], cwd=ROOT,
        env=dict(os.environ, TF_USE_LEGACY_KERAS="1"), capture_output=True,
        text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "joined" not in result.stdout
    assert (f"Trainer worker 0: waiting up to 5 s for the workers "
            f"{addresses[0]}, {addresses[1]} to join") in result.stderr
    assert "Timeout (0:00:05)!" in result.stderr
    assert time.monotonic() - started < 90
