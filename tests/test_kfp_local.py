"""The local KFP runner the Kubeflow tests use refuses what it would not
run faithfully, so a package cannot pass by being half read."""

import pytest
import yaml

from tests import kfp_local


def _package(tmp_path, task_extra, condition=None):
    task = {"taskInfo": {"name": "t"}, "componentRef": {"name": "comp-t"},
            **task_extra}
    if condition:
        task["triggerPolicy"] = {"condition": condition}
    spec = {"root": {"dag": {"tasks": {"t": task}}},
            "components": {"comp-t": {"executorLabel": "exec-t"}},
            "deploymentSpec": {"executors": {"exec-t": {"container": {
                "image": "x", "command": ["true"]}}}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.mark.parametrize("extra,condition,message", [
    ({"parameterIterator": {}}, None, "parameterIterator"),
    ({"inputs": {"artifacts": {}}}, None, "task inputs"),
    ({}, "inputs.parameter_values['x'] == 'y'", "condition on container"),
])
def test_what_it_does_not_run_is_an_error(tmp_path, extra, condition,
                                          message):
    with pytest.raises(kfp_local.PackageError, match=message):
        kfp_local.run(_package(tmp_path, extra, condition), "job", {})


def test_values_render_as_the_kfp_backend_does():
    assert kfp_local.render(True) == "true"
    assert kfp_local.render(1.0) == "1"
    assert kfp_local.render(0.25) == "0.25"
    assert kfp_local.condition_holds(
        "inputs.parameter_values['d'] != 'run'", {"d": "skip"})
    with pytest.raises(kfp_local.PackageError, match="not supported"):
        kfp_local.condition_holds("inputs.parameter_values['d'] > 1",
                                  {"d": 2})


def test_a_failed_task_runs_again_as_its_retry_policy_says(tmp_path):
    marker = tmp_path / "failed-once"
    spec = {"root": {"dag": {"tasks": {"t": {
        "taskInfo": {"name": "t"}, "componentRef": {"name": "comp-t"},
        "retryPolicy": {"maxRetryCount": 2, "backoffDuration": "60s",
                        "backoffFactor": 2.0}}}}},
        "components": {"comp-t": {"executorLabel": "exec-t"}},
        "deploymentSpec": {"executors": {"exec-t": {"container": {
            "image": "x", "command": [
                "sh", "-c", f"test -f {marker} || {{ touch {marker}; "
                            "echo first >&2; exit 3; }"]}}}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec))
    calls = []
    result = kfp_local.run(str(path), "job", {}, hooks=kfp_local.Hooks(
        on_start=lambda name: calls.append(("start", name)),
        before_retry=lambda name, attempt: calls.append((name, attempt)),
        backoff_scale=0))
    assert not result.failed and result.names == ["t"]
    [(name, failed)] = result.retried
    assert name == "t" and failed.returncode == 3 and "first" in failed.stderr
    assert calls == [("start", "t"), ("t", 1), ("start", "t")]
