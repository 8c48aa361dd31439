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
