"""The Kubeflow package runs: every task's exact command, in the image.

No cluster here: `tests/kfp_local.py` reads the compiled YAML and runs each
task's container command and arguments in a container of the project's
image (built by `tests/containers.py`, buildah and podman), in the DAG's
dependency order, with the secret the platform spec names given as env and
the PersistentVolumeClaim the package mounts standing in as a host folder
mounted at the same path in every container (what a ReadWriteMany claim
gives the pods of a cluster). ML Metadata is a real MariaDB server on
loopback (`tests/mariadb.py`), reached over the MySQL protocol as a pod
would reach a MySQL service.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import threading
import time

import pytest

from pipeline import nodes
from pipeline import startup
from pipeline.metadata import models
from pipeline.metadata import runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import kubeflow
from pipeline.runners import node_entrypoint
from tests import containers
from tests import kfp_local
from tests import mariadb
from tests.pipeline import helpers

SECRET = "mlmd-mysql"
# The package's tasks of TFX nodes, in the order they start (train and
# validate-data side by side).
TFX_TASKS = [kubeflow.DATA_TASK, kubeflow.TRAIN_TASK,
             kubeflow.VALIDATE_TASK, kubeflow.EVALUATE_TASK]
CLAIM = "pipeline-data"


@pytest.fixture(scope="module")
def mysql(tmp_path_factory):
    with mariadb.running(str(tmp_path_factory.mktemp("mariadb"))) as server:
        yield server


@pytest.fixture(scope="module")
def image():
    return containers.build()


@pytest.fixture
def claim(tmp_path, tfds_data_dir):
    """The host folder standing in for the claim: the TFDS data prepared
    in it, owned by the image's user (as a pod's fsGroup would make it)."""
    return pathlib.Path(
        containers.claim(tfds_data_dir, str(tmp_path / "claim")))


def _compile(tmp_path, claim, metadata_url, image_tag, *extra, root=None):
    package = tmp_path / "pipeline.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(package), "--image", image_tag,
        "--volume", f"{CLAIM}:{claim}", *extra,
        "--pipeline-root", root or str(claim / "root"),
        "--metadata", metadata_url,
        "--metadata-secret", f"{SECRET}:password",
        "--dataset", "tiny_images", "--dataset-config", "clean",
        "--tfds-data-dir", str(claim / "tfds"), "--epochs", "1",
        # The committed schema, named package-relative in the IR.
        "--schema", os.path.join(helpers.REPO, "schemas", "fashion_mnist",
                                 "schema.pbtxt")])
    assert result.returncode == 0, result.stderr[-3000:]
    return str(package)


def _run(package, claim, job_uuid, password,
         hooks=kfp_local.Hooks(backoff_scale=0), secrets=None, **parameters):
    """A run of the package, every task in a container; a failed task is
    retried as the package says, without the backoff."""
    result = kfp_local.run(package, job_uuid, {},
                           parameters=dict({"epochs": 2}, **parameters),
                           secrets=dict(secrets or {},
                                        **{SECRET: {"password": password}}),
                           volumes={CLAIM: str(claim)},
                           containers=kfp_local.Containers(
                               env=containers.engine_env()), hooks=hooks)
    assert not result.failed, (result.failure[0],
                               result.failure[1].stderr[-4000:])
    if hooks.before_retry is None:
        assert not result.retried, [(n, p.stderr[-2000:])
                                    for n, p in result.retried]
    return result


def _overheads(result):
    """Task -> (container start s, start-up s, total s): from the engine's
    call to the task's process, the task's own line (process start to its
    work), and the whole task."""
    table = {}
    for name, completed in result.tasks:
        said = startup.read_startup(completed.stderr)
        assert said, (name, "no start-up line", completed.stderr[-2000:])
        seconds, process_started = said
        table[name] = (process_started - result.started[name], seconds,
                       result.seconds[name])
    return table


def _report(capsys, title, table):
    with capsys.disabled():
        print(f"\n{title}: task, container start s, start-up s, total s")
        for name, (start, imports, total) in table.items():
            print(f"  {name:22} {start:6.2f} {imports:6.2f} {total:7.2f}")


@pytest.mark.slow
def test_the_image_runs_tasks_as_a_user_with_no_build_secret(image,
                                                             tmp_path):
    """What `make image` built and `make image-archive` exports: a non-root
    user, the venv's Python 3.11 first on PATH, no compiler, and nothing of
    the build's secrets in its config, history or files."""
    user, python, compiler, secrets = containers.podman(
        "run", "--rm", "--network", "host", "--entrypoint", "sh", image.tag,
        "-c",
        "id -u; python -c 'import sys; print(sys.executable, "
        "sys.version_info[:2])'; command -v g++ || echo none; "
        "ls -A /run/secrets 2>/dev/null | wc -l").stdout.split("\n")[:4]
    assert user == str(containers.IMAGE_UID)
    assert python == "/opt/venv/bin/python (3, 11)"
    assert compiler == "none"
    assert secrets == "0"
    history = containers.podman("history", "--no-trunc", "--format",
                                "{{.CreatedBy}}", image.tag).stdout
    assert "BEGIN CERTIFICATE" not in history
    for value in filter(None, (os.environ.get("PIP_CERT"),
                               os.environ.get("PIP_INDEX_URL"))):
        assert value not in history

    archive = tmp_path / "image.oci.tar"
    result = subprocess.run(
        ["make", "-s", "image-archive", f"IMAGE={image.tag}",
         f"ARCHIVE={archive}"], cwd=helpers.REPO,
        env=containers.engine_env(), capture_output=True, text=True,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        [entry] = index["manifests"]
        manifest = json.load(tar.extractfile(
            "blobs/sha256/" + entry["digest"].split(":")[1]))
        config = json.load(tar.extractfile(
            "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]))
    assert config["config"]["User"] == f"{containers.IMAGE_UID}:" \
        f"{containers.IMAGE_UID}"
    assert not [e for e in config["config"]["Env"]
                if e.startswith(("PIP_CERT", "PIP_INDEX_URL"))]
    assert "TF_USE_LEGACY_KERAS=1" in config["config"]["Env"]


@pytest.mark.slow
def test_compiled_package_runs_task_by_task_in_the_image(
        tmp_path, mysql, image, claim, capsys):
    root = claim / "root"
    package = _compile(tmp_path, claim, mysql.url, image.tag)
    _, platform = kfp_local.load(package)
    assert platform, "no kfp-kubernetes platform spec (secret) in the package"

    first_run = _run(package, claim, "job-1", mysql.password)
    with capsys.disabled():
        print(f"\nimage {image.tag}: built in {image.build_seconds:.0f} s, "
              f"{image.size_bytes / 1e9:.2f} GB")
    _report(capsys, "cold run", _overheads(first_run))
    tasks = first_run.names
    assert tasks[0] == kubeflow.DECIDE_TASK
    assert "started by hand" in first_run.outputs[kubeflow.DECIDE_TASK][
        "reason"]
    assert tasks[1:] == TFX_TASKS

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

    cached = _run(package, claim, "job-2", mysql.password)
    _report(capsys, "fully cached run", _overheads(cached))
    states = {run: runs.node_states(store, pipeline_name, run)
              for run in ("job-1", "job-2")}
    assert states["job-1"] == {n: "COMPLETE" for n in helpers.NODES}
    # Four tasks, each node still its own execution and its own log.
    for node_id in helpers.NODES:
        log = root / "logs" / "job-1" / f"{node_id}.log"
        assert "Running launcher for node_info" in log.read_text(), log
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
    tick = _run(package, claim, "job-3", mysql.password, only_if_changed=True)
    assert tick.names == [kubeflow.DECIDE_TASK]
    assert tick.outputs[kubeflow.DECIDE_TASK]["decision"] == "skip"
    reason = tick.outputs[kubeflow.DECIDE_TASK]["reason"]
    assert "same compiled pipeline" in reason and "no new data" in reason
    assert "job-2" in reason
    assert set(TFX_TASKS) <= set(tick.skipped)
    assert runs.get_run(store, pipeline_name, "job-3") is None

    # A scheduled run with another run-time parameter: the DAG runs.
    changed = _run(package, claim, "job-4", mysql.password,
                   only_if_changed=True, epochs=3)
    assert "compiled pipeline changed" in changed.outputs[
        kubeflow.DECIDE_TASK]["reason"]
    assert changed.names[1:] == TFX_TASKS
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


class _StopStoreWhileTraining:
    """Hooks: once the Trainer's execution is RUNNING in ML Metadata (its
    executor training) and the task beside it (validate-data) has ended,
    stops the MariaDB server, once."""

    def __init__(self, mysql, pipeline_name, run_id):
        self.mysql, self.pipeline_name, self.run_id = (mysql, pipeline_name,
                                                       run_id)
        self.thread = None
        self.stopped_while = None
        self.beside_ended = threading.Event()

    def on_start(self, name):
        if name == kubeflow.TRAIN_TASK and self.thread is None:
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()

    def on_end(self, name, _):
        if name == kubeflow.VALIDATE_TASK:
            self.beside_ended.set()

    def _watch(self):
        store = metadata_store.open_store(_url_with_password(self.mysql),
                                          read_only=True)
        deadline = time.monotonic() + 300
        self.beside_ended.wait(timeout=300)
        while time.monotonic() < deadline:
            state = runs.node_states(store, self.pipeline_name,
                                     self.run_id).get(nodes.TRAINER)
            if state == "RUNNING":
                self.mysql.stop()
                self.stopped_while = state
                return
            time.sleep(0.1)


def _url_with_password(mysql):
    return mysql.url.replace(f"mysql://{mysql.user}@",
                             f"mysql://{mysql.user}:{mysql.password}@")


@pytest.mark.slow
def test_the_store_going_away_fails_the_task_and_its_retry_completes(
        tmp_path, mysql, image, claim, capsys):
    """MariaDB stopped while the Trainer trains: that task fails with one
    message naming the store, the retry (with the store back) and the rest
    of the run complete, and the served model is never harmed."""
    mysql = dataclasses.replace(mysql, database="mlmd_fault")
    package = _compile(tmp_path, claim, mysql.url, image.tag)
    pipeline_name = "tiny-images-clean-classifier"
    _run(package, claim, "job-1", mysql.password)
    serving = str(claim / "root" / "serving")
    [served] = helpers.serving_versions(serving)
    served_files = _files(os.path.join(serving, served))

    stopper = _StopStoreWhileTraining(mysql, pipeline_name, "job-2")
    restarts = []
    try:
        # Epochs enough for the Trainer to be training once the task
        # beside it (validate-data, all of it cached) has ended.
        result = _run(package, claim, "job-2", mysql.password, epochs=20,
                      hooks=kfp_local.Hooks(
                          on_start=stopper.on_start, on_end=stopper.on_end,
                          before_retry=lambda name, attempt: (
                              restarts.append(name), mysql.start()),
                          backoff_scale=0))
    finally:
        mysql.start()  # For the module's other tests, whatever happened.
    assert stopper.stopped_while == "RUNNING"
    [(name, failed)] = result.retried
    assert name == kubeflow.TRAIN_TASK and restarts == [kubeflow.TRAIN_TASK]
    assert failed.returncode != 0
    errors = [line for line in failed.stderr.splitlines()
              if line.startswith("Error:")]
    assert len(errors) == 1 and mysql.url in errors[0], failed.stderr[-6000:]
    with capsys.disabled():
        print(f"\nthe Trainer with the store stopped: {errors[0]}")
    assert "Traceback" not in failed.stderr
    assert mysql.password not in failed.stderr + failed.stdout
    assert result.names[1:] == TFX_TASKS

    store = metadata_store.open_store(_url_with_password(mysql),
                                      read_only=True)
    assert runs.node_states(store, pipeline_name, "job-2")[
        nodes.TRAINER] == "COMPLETE"
    assert _files(os.path.join(serving, served)) == served_files
    verify = helpers.run_cli([sys.executable, "-m", "pipeline", "models",
                              "--metadata", mysql.url, "--verify"],
                             env=dict(os.environ, **{
                                 urls.MYSQL_PASSWORD_ENV: mysql.password}))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _files(folder):
    """Relative path -> bytes of every file under `folder`."""
    found = {}
    for path in sorted(pathlib.Path(folder).rglob("*")):
        if path.is_file():
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


@pytest.mark.slow
def test_the_package_runs_with_its_root_and_serving_dir_on_minio(
        tmp_path, mysql, image, claim, s3_env):
    """The pipeline root and serving dir on MinIO (the store KFP ships):
    the endpoint in the package, the credentials from a secret and nowhere
    else; the pushed model answers when loaded from MinIO."""
    mysql = dataclasses.replace(mysql, database="mlmd_s3")
    root = f"s3://pipeline/package-{tmp_path.name}"
    package = _compile(tmp_path, claim, mysql.url, image.tag,
                       "--s3-endpoint", s3_env.endpoint,
                       "--s3-secret", "minio-creds", root=root)
    result = _run(package, claim, "job-1", mysql.password, secrets={
        "minio-creds": {"accesskey": s3_env.access_key,
                        "secretkey": s3_env.secret_key}})
    assert result.names[1:] == TFX_TASKS
    store = metadata_store.open_store(_url_with_password(mysql),
                                      read_only=True)
    destination = models.last_pushed(
        store, "tiny-images-clean-classifier").destination
    assert destination.startswith(f"{root}/serving/")
    from components import storage  # pylint: disable=import-outside-toplevel
    storage.enable([destination])
    helpers.check_signatures(destination)
    text = pathlib.Path(package).read_text(encoding="utf-8")
    assert s3_env.endpoint in text
    assert s3_env.secret_key not in text and s3_env.access_key not in text
    for _, completed in result.tasks:
        assert s3_env.secret_key not in completed.stdout + completed.stderr
