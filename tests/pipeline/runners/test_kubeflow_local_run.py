"""The Kubeflow package runs: every task's exact command, on this machine.

No cluster here: `tests/kfp_local.py` reads the compiled YAML and runs each
task's container command and arguments as a subprocess, in the DAG's
dependency order, with the secret the platform spec names given as env.
ML Metadata is a real MariaDB server on loopback (`tests/mariadb.py`),
reached over the MySQL protocol as a pod would reach a MySQL service.
"""

import json
import os
import sys

import pytest

from pipeline import nodes
from pipeline.metadata import models
from pipeline.metadata import runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import kubeflow
from pipeline.runners import node_entrypoint
from tests import kfp_local
from tests import mariadb
from tests.pipeline import helpers

SECRET = "mlmd-mysql"


@pytest.fixture(scope="module")
def mysql(tmp_path_factory):
    with mariadb.running(str(tmp_path_factory.mktemp("mariadb"))) as server:
        yield server


def _compile(tmp_path, data_dir, metadata_url, root):
    package = tmp_path / "pipeline.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(package), "--image", "tfds-pipeline:test",
        "--pipeline-root", str(root), "--metadata", metadata_url,
        "--metadata-secret", f"{SECRET}:password",
        "--dataset", "tiny_images", "--dataset-config", "clean",
        "--tfds-data-dir", data_dir, "--epochs", "1",
        # The committed schema, named package-relative in the IR.
        "--schema", os.path.join(helpers.REPO, "schemas", "fashion_mnist",
                                 "schema.pbtxt")])
    assert result.returncode == 0, result.stderr[-3000:]
    return str(package)


def _run(package, job_uuid, password, **parameters):
    # `python` in the task commands is this environment's interpreter, as it
    # is the image's in a pod.
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ["PATH"])
    env.pop(urls.MYSQL_PASSWORD_ENV, None)
    result = kfp_local.run(package, job_uuid, env,
                           parameters=dict({"epochs": 2}, **parameters),
                           secrets={SECRET: {"password": password}})
    assert not result.failed, (result.tasks[-1][0],
                               result.tasks[-1][1].stderr[-4000:])
    return result


@pytest.mark.slow
def test_compiled_package_runs_task_by_task_on_mysql(tmp_path, mysql,
                                                     tfds_data_dir):
    root = tmp_path / "root"
    package = _compile(tmp_path, tfds_data_dir, mysql.url, root)
    _, platform = kfp_local.load(package)
    assert platform, "no kfp-kubernetes platform spec (secret) in the package"

    first_run = _run(package, "job-1", mysql.password)
    tasks = first_run.names
    assert tasks[0] == kubeflow.DECIDE_TASK
    assert "started by hand" in first_run.outputs[kubeflow.DECIDE_TASK][
        "reason"]
    assert sorted(tasks[1:]) == sorted(helpers.NODES)
    assert tasks.index(nodes.TRAINER) > tasks.index(nodes.TRANSFORM)

    store = metadata_store.open_store(mysql.url.replace(
        "mysql://mlmd@", f"mysql://mlmd:{mysql.password}@"), read_only=True)
    pipeline_name = "tiny-images-clean-classifier"
    destination = models.last_pushed(store, pipeline_name).destination
    assert destination.startswith(str(root / "serving"))
    helpers.check_signatures(destination)
    # The run-time pipeline parameter reached the Trainer (compiled with 1).
    first = runs.get_run(store, pipeline_name, "job-1")
    model_run = runs.outputs(store, first, nodes.TRAINER)[
        nodes.MODEL_RUN_KEY][0].uri
    with open(os.path.join(model_run, "training.json"),
              encoding="utf-8") as f:
        assert len(json.load(f)["history"]["loss"]) == 2

    _run(package, "job-2", mysql.password)
    states = {run: runs.node_states(store, pipeline_name, run)
              for run in ("job-1", "job-2")}
    assert states["job-1"] == {n: "COMPLETE" for n in helpers.NODES}
    assert states["job-2"] == {
        n: ("COMPLETE" if n == nodes.BASELINE_RESOLVER else "CACHED")
        for n in helpers.NODES}
    assert helpers.serving_versions(str(root / "serving")) == [
        destination.rsplit("/", 1)[1]]

    # The history commands read the same MySQL store.
    env = dict(os.environ, **{urls.MYSQL_PASSWORD_ENV: mysql.password})
    listed = json.loads(helpers.run_cli(
        [sys.executable, "-m", "pipeline", "runs", "--metadata", mysql.url,
         "--json"], env=env).stdout)
    assert [r["run_id"] for r in listed] == ["job-2", "job-1"]
    assert [r["status"] for r in listed] == ["succeeded", "succeeded"]
    assert listed[1]["pushed_version"] == destination.rsplit("/", 1)[1]
    pushed = json.loads(helpers.run_cli(
        [sys.executable, "-m", "pipeline", "models", "--metadata", mysql.url,
         "--json"], env=env).stdout)
    assert [(m["version"], m["trained_in_run"]) for m in pushed] == [
        (destination.rsplit("/", 1)[1], "job-1")]

    # A scheduled run of the same pipeline on the same data: one task.
    tick = _run(package, "job-3", mysql.password, only_if_changed=True)
    assert tick.names == [kubeflow.DECIDE_TASK]
    assert tick.outputs[kubeflow.DECIDE_TASK]["decision"] == "skip"
    reason = tick.outputs[kubeflow.DECIDE_TASK]["reason"]
    assert "same compiled pipeline" in reason and "no new data" in reason
    assert "job-2" in reason
    assert set(helpers.NODES) <= set(tick.skipped)
    assert runs.get_run(store, pipeline_name, "job-3") is None

    # A scheduled run with another run-time parameter: the DAG runs.
    changed = _run(package, "job-4", mysql.password, only_if_changed=True,
                   epochs=3)
    assert "compiled pipeline changed" in changed.outputs[
        kubeflow.DECIDE_TASK]["reason"]
    assert sorted(changed.names[1:]) == sorted(helpers.NODES)
    job_4 = runs.node_states(store, pipeline_name, "job-4")
    assert job_4[nodes.TRAINER] == "COMPLETE"
    assert job_4[nodes.EXAMPLE_GEN] == "CACHED"


def test_wrong_password_fails_with_the_database_named(tmp_path, mysql):
    """A task that cannot reach ML Metadata fails, naming the store."""
    ir = tmp_path / "ir.txt"
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    ir.write_text(node_entrypoint.encode_ir(pipeline_pb2.Pipeline()))
    env = dict(os.environ, **{urls.MYSQL_PASSWORD_ENV: "wrong"})
    result = helpers.run_cli(
        [sys.executable, "-m", "pipeline.runners.node_entrypoint",
         "--pipeline-ir-file", str(ir), "--node-id", nodes.TRAINER,
         "--run-id", "x", "--metadata", mysql.url], env=env)
    assert result.returncode != 0
    assert f"cannot open ML Metadata at {mysql.url}" in result.stderr
    assert "Traceback" not in result.stderr
