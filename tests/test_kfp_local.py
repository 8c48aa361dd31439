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


def _dag_package(tmp_path, commands, depends):
    """A package of container tasks `name -> shell command`, each after
    the tasks `depends[name]` names."""
    tasks = {name: {"taskInfo": {"name": name},
                    "componentRef": {"name": f"comp-{name}"},
                    **({"dependentTasks": depends[name]}
                       if depends.get(name) else {})}
             for name in commands}
    spec = {"root": {"dag": {"tasks": tasks}},
            "components": {f"comp-{n}": {"executorLabel": f"exec-{n}"}
                           for n in commands},
            "deploymentSpec": {"executors": {f"exec-{n}": {"container": {
                "image": "x", "command": ["sh", "-c", command]}}
                for n, command in commands.items()}}}
    path = tmp_path / "dag.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_tasks_ready_together_run_side_by_side_as_argo_runs_them(tmp_path):
    log = tmp_path / "log"
    step = f"echo $0 start >> {log}; sleep 1; echo $0 end >> {log}"
    package = _dag_package(
        tmp_path, {n: step.replace("$0", n) for n in "abcd"},
        {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    result = kfp_local.run(package, "job", {})
    assert not result.failed and result.names == ["a", "b", "c", "d"]
    lines = log.read_text().split("\n")
    # b and c both started before either ended; d after both.
    assert lines.index("b start") < lines.index("c end")
    assert lines.index("c start") < lines.index("b end")
    assert lines.index("d start") > max(lines.index("b end"),
                                        lines.index("c end"))


def test_a_failed_task_lets_the_one_beside_it_finish_and_stops_the_dag(
        tmp_path):
    done = tmp_path / "c-done"
    package = _dag_package(
        tmp_path, {"a": "true", "b": "exit 3", "c": f"sleep 1; touch {done}",
                   "d": "true"},
        {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    result = kfp_local.run(package, "job", {})
    assert result.failed and result.failure[0] == "b"
    assert done.exists()
    assert "d" not in result.names
