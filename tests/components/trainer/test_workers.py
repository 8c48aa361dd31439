"""The local Trainer workers' cluster."""

import pytest

import pipeline_config as pc
from components.trainer import workers


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
