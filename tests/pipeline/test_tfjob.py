"""The Trainer's workers on Kubeflow: a TFJob of the Training Operator,
checked against its published schema and run against a local stand-in of
the Kubernetes API (tests/kubernetes_standin.py; no cluster here)."""

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

import pipeline_config as pc
from components.trainer import tfjob
from pipeline import factory
from pipeline import nodes
from pipeline.runners import kubeflow as kubeflow_runner
from pipeline.runners import local as local_runner
from tests import kubernetes_standin
from tests.pipeline import helpers

KUBEFLOW = pc.KubeflowConfig(
    image="registry.example/tfds-pipeline:1", trainer_gpus=2,
    trainer_cpu="8", trainer_memory="32G",
    trainer_node_selector=(("cloud.google.com/gke-accelerator",
                            "nvidia-tesla-t4"),),
    volumes=(("pipeline-data", "/data"),),
    s3_endpoint="http://minio.kubeflow:9000",
    s3_secret="mlpipeline-minio-artifact")


def _trainer_custom_config(config, kubeflow=KUBEFLOW) -> dict:
    """The Trainer's custom_config in the IR a compiled package carries."""
    ir = kubeflow_runner.compile_ir(config, kubeflow)
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == nodes.TRAINER]
    return json.loads(node.parameters.parameters["custom_config"]
                      .field_value.string_value)


def _workers(config, count):
    return pc.dataclasses.replace(config, training=pc.dataclasses.replace(
        config.training, workers=count))


def test_the_compiled_trainer_makes_a_tfjob_the_operator_accepts(
        tmp_path, monkeypatch):
    monkeypatch.setenv(tfjob.SERVICE_ACCOUNT_ENV, "pipeline-runner")
    config = _workers(pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "/data/tfds"),
        remote_root="/data/root"), 3)
    settings = _trainer_custom_config(config)[tfjob.CONFIG_KEY]
    job = tfjob.manifest("trainer-0123456789ab", settings["pod"], 3,
                         "/data/root/Trainer/.tfjob/x.json",
                         settings["deadline_seconds"], settings["labels"])
    assert kubernetes_standin.schema_errors(job) == []
    specs = job["spec"]["tfReplicaSpecs"]
    assert {k: v["replicas"] for k, v in specs.items()} == {
        "Chief": 1, "Worker": 2}
    template = specs["Worker"]["template"]
    # An Istio sidecar would outlive the replica's container, and so keep
    # the job from finishing.
    assert template["metadata"]["annotations"] == {
        "sidecar.istio.io/inject": "false"}
    pod = template["spec"]
    # What reaches the pipeline root for the Trainer task reaches it for
    # its replicas.
    assert pod["serviceAccountName"] == "pipeline-runner"
    [container] = pod["containers"]
    assert container["name"] == "tensorflow"
    assert container["image"] == KUBEFLOW.image
    assert container["command"] == [
        "python", "-m", "components.trainer.fresh_process",
        "/data/root/Trainer/.tfjob/x.json"]
    assert container["resources"]["limits"] == {
        "cpu": "8", "memory": "32G", "nvidia.com/gpu": "2"}
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists",
            "effect": "NoSchedule"} in pod["tolerations"]
    assert container["volumeMounts"] == [{"name": "volume-0",
                                          "mountPath": "/data"}]
    assert pod["volumes"] == [{"name": "volume-0", "persistentVolumeClaim": {
        "claimName": "pipeline-data"}}]
    env = {e["name"]: e for e in container["env"]}
    # They may wait for nodes and image pulls before all have joined.
    assert env["PIPELINE_TRAINER_JOIN_TIMEOUT_SECONDS"]["value"] == "1800"
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio.kubeflow:9000"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlpipeline-minio-artifact", "key": "accesskey"}
    # No credential is in the package: only the secret's name.
    assert "value" not in env["AWS_SECRET_ACCESS_KEY"]
    assert job["spec"]["runPolicy"] == {
        "backoffLimit": 0, "cleanPodPolicy": "Running",
        "activeDeadlineSeconds": kubeflow_runner.TFJOB_DEADLINE_SECONDS}


def test_a_task_pod_that_names_no_service_account_leaves_it_out(
        monkeypatch):
    monkeypatch.delenv(tfjob.SERVICE_ACCOUNT_ENV, raising=False)
    job = tfjob.manifest("trainer-x", kubeflow_runner.tfjob_pod(KUBEFLOW), 2,
                         "gs://b/r.json", 60)
    for spec in job["spec"]["tfReplicaSpecs"].values():
        assert "serviceAccountName" not in spec["template"]["spec"]
    assert kubernetes_standin.schema_errors(job) == []


def test_the_schema_check_refuses_what_the_operator_would():
    job = tfjob.manifest("trainer-x", kubeflow_runner.tfjob_pod(KUBEFLOW), 2,
                         "gs://b/r.json", 60)
    job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = "1"
    job["spec"]["runPolicy"]["cleanPodPolicies"] = "All"
    errors = kubernetes_standin.schema_errors(job)
    assert any("tfReplicaSpecs.Worker.replicas" in e and "integer" in e
               for e in errors), errors
    assert any("cleanPodPolicies" in e for e in errors), errors


def test_one_worker_needs_no_tfjob(tmp_path):
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "gs://b/tfds"),
        remote_root="gs://b/root")
    assert tfjob.CONFIG_KEY not in _trainer_custom_config(config)


def _run_with_tfjob(tmp_path, tfds_data_dir, monkeypatch, **standin):
    """The tiny pipeline, run here, with its Trainer training in a TFJob of
    two replicas that the stand-in runs as processes of this machine."""
    config = _workers(helpers.tiny_config(tmp_path / "out", tfds_data_dir), 2)
    pod = kubeflow_runner.tfjob_pod(pc.KubeflowConfig(image="unused"))
    orchestration = factory.Orchestration(trainer_config={tfjob.CONFIG_KEY: {
        "pod": pod, "deadline_seconds": 900, "labels": {"pipeline": "tiny"}}})
    with kubernetes_standin.serving(str(tmp_path), **standin) as (
            state, kubeconfig):
        monkeypatch.setenv("KUBECONFIG", kubeconfig)
        try:
            summary = local_runner.run(config, "local",
                                       orchestration=orchestration)
            error = None
        except local_runner.RunError as failure:
            summary, error = None, failure
        return config, state, summary, error


@pytest.mark.slow
def test_the_trainer_trains_in_a_tfjob_and_publishes_the_chiefs_model(
        tmp_path, tfds_data_dir, monkeypatch):
    config, state, summary, error = _run_with_tfjob(
        tmp_path, tfds_data_dir, monkeypatch,
        env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    assert error is None, error
    assert summary["blessed"] and summary["pushed_model"]
    helpers.check_signatures(summary["pushed_model"])
    [(namespace, name)] = list(state.jobs)
    assert namespace == "pipelines"
    job = state.jobs[(namespace, name)]
    assert job.deleted
    assert kubernetes_standin.schema_errors(job.body) == []
    assert sorted(job.tf_configs) == [("Chief", 0), ("Worker", 0)]
    [record] = helpers.training_records(config.output_dir)
    assert record["strategy"] == "MultiWorkerMirroredStrategy"
    assert record["workers"] == (job.tf_configs[("Chief", 0)]["cluster"][
        "chief"] + job.tf_configs[("Chief", 0)]["cluster"]["worker"])
    assert record["global_batch_size"] == 2 * 64
    # The request went where every pod reaches, and is gone.
    request = job.body["spec"]["tfReplicaSpecs"]["Chief"]["template"][
        "spec"]["containers"][0]["command"][-1]
    assert request.startswith(os.path.join(config.pipeline_root, "Trainer"))
    assert not os.path.exists(request)


@pytest.mark.slow
def test_a_tfjob_that_fails_fails_the_trainer_with_the_operators_reason(
        tmp_path, tfds_data_dir, monkeypatch):
    _, state, _, error = _run_with_tfjob(
        tmp_path, tfds_data_dir, monkeypatch, kill=("Worker", 0),
        env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    [(namespace, name)] = list(state.jobs)
    assert error is not None
    assert (f"TFJob {namespace}/{name} failed: TFJob {namespace}/{name} is "
            "failed because 1 Worker replica(s) failed.") in str(error)
    assert state.jobs[(namespace, name)].deleted


def test_the_tfjob_is_owned_by_the_trainers_pod_and_labels_fit(monkeypatch):
    monkeypatch.setenv(tfjob.POD_NAME_ENV, "tfds-pipeline-xyz-trainer-1")
    monkeypatch.setenv(tfjob.POD_UID_ENV,
                       "0b6d1d1e-8c1f-4f7e-9d2a-2f1f0e4b9c11")
    job = tfjob.manifest("trainer-x", kubeflow_runner.tfjob_pod(KUBEFLOW), 2,
                         "gs://b/r.json", 60,
                         labels={"pipeline": "a" * 70 + "/x"})
    assert kubernetes_standin.schema_errors(job) == []
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Pod",
        "name": "tfds-pipeline-xyz-trainer-1",
        "uid": "0b6d1d1e-8c1f-4f7e-9d2a-2f1f0e4b9c11"}]
    assert job["metadata"]["labels"]["pipeline"] == "a" * 63


def test_the_compiled_trainer_task_knows_its_pod(tmp_path):
    config = _workers(pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "gs://b/tfds"),
        remote_root="gs://b/root"), 2)
    path = tmp_path / "p.yaml"
    kubeflow_runner.compile_package(config, KUBEFLOW, str(path))
    with open(path, encoding="utf-8") as f:
        platform = list(yaml.safe_load_all(f))[1]["platforms"]["kubernetes"]
    executors = platform["deploymentSpec"]["executors"]
    [trainer] = [e for label, e in executors.items()
                 if label == f"exec-{kubeflow_runner.TRAIN_TASK}"]
    assert {(v["name"], v["fieldPath"]) for v in trainer["fieldPathAsEnv"]} \
        == {(tfjob.POD_NAME_ENV, "metadata.name"),
            (tfjob.POD_UID_ENV, "metadata.uid"),
            (tfjob.SERVICE_ACCOUNT_ENV, "spec.serviceAccountName")}


def _quick_job(name, seconds):
    """A TFJob whose replicas only wait `seconds`: the API's part alone."""
    job = tfjob.manifest(name, {"spec": {"containers": [{
        "name": "tensorflow", "image": "unused"}]}}, 2, "unused", 60)
    for spec in job["spec"]["tfReplicaSpecs"].values():
        spec["template"]["spec"]["containers"][0]["command"] = [
            "python", "-c", f"import time; time.sleep({seconds})"]
    return job


def test_a_busy_api_server_is_asked_again(tmp_path, monkeypatch):
    with kubernetes_standin.serving(str(tmp_path), busy_gets=2) as (
            state, kubeconfig):
        monkeypatch.setenv("KUBECONFIG", kubeconfig)
        tfjob.run(_quick_job("trainer-busy", 0), wait_seconds=60,
                  echo=lambda line: None)
        assert state.busy_gets == 0
        assert state.jobs[("pipelines", "trainer-busy")].deleted


def test_a_trainer_stopped_with_sigterm_deletes_its_tfjob(tmp_path):
    with kubernetes_standin.serving(str(tmp_path)) as (state, kubeconfig):
        waiting = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-c", (
                "import json, sys; from components.trainer import tfjob; "
                "tfjob.run(json.loads(sys.argv[1]), wait_seconds=120)"),
             json.dumps(_quick_job("trainer-term", 120))],
            cwd=kubernetes_standin.ROOT, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, KUBECONFIG=kubeconfig))
        assert "created" in waiting.stdout.readline()
        waiting.send_signal(signal.SIGTERM)
        assert waiting.wait(timeout=30) == 128 + signal.SIGTERM
        assert state.jobs[("pipelines", "trainer-term")].deleted
