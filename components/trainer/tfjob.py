"""The Trainer's workers on Kubeflow: a TFJob of the Kubeflow Training
Operator (kubeflow.org/v1), made, waited for and cleaned up by the Trainer
task.

A package compiled with `--trainer-workers N` gives the Trainer a pod
template (`custom_config["tfjob"]`: the image, resources, volumes and
environment of the Trainer's own pod). The Trainer task then writes its
request (inputs, outputs, settings) beside its outputs on the pipeline
root, which every pod reaches, and creates a TFJob of one Chief and N - 1
Workers of that template, each running `python -m
components.trainer.fresh_process REQUEST_URI`. The operator gives every
replica its TF_CONFIG (chief and worker tasks); MultiWorkerMirroredStrategy
trains across them and only the chief writes the model and training.json,
into the Trainer's output artifact, which the task then publishes as
usual. A replica that fails fails the job (restartPolicy Never, backoffLimit
0; the KFP task's retry policy retries the whole Trainer), and so does one
that never starts: the job's activeDeadlineSeconds bounds it, and the task
stops waiting then too. The TFJob is deleted when the task is done with it,
whatever the outcome.
"""

import json
import os
import re
import signal
import threading
import time
import uuid
from typing import Any, Dict, Optional

import tensorflow as tf

CONFIG_KEY = "tfjob"
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "tfjobs"
# The container name the Training Operator looks for in a replica's pod.
CONTAINER = "tensorflow"
_POLL_SECONDS = 2.0
# The Trainer task's own pod, from the downward API (the Kubeflow package
# sets these): its TFJob is owned by it, so Kubernetes deletes the job with
# the pod even when the task is killed outright.
POD_NAME_ENV, POD_UID_ENV = "PIPELINE_POD_NAME", "PIPELINE_POD_UID"
# Its service account, which the replicas run as: what lets the task reach
# a gs:// pipeline root through Workload Identity lets them too (S3
# credentials come from the secret, as for the task).
SERVICE_ACCOUNT_ENV = "PIPELINE_SERVICE_ACCOUNT"
# Kubernetes label values: at most 63 characters of these.
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")
_SERVICE_ACCOUNT_NAMESPACE = (
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class TFJobFailed(RuntimeError):
    """The TFJob failed, or did not finish in time; the message says which
    and why, as the operator reported it."""


def manifest(name: str, pod: Dict[str, Any], workers: int,
             request_uri: str, deadline_seconds: int,
             labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The TFJob of one Chief and `workers` - 1 Workers of the pod template
    `pod` (a PodTemplateSpec with one container, whose command this sets),
    run as the Trainer task's service account when its pod names it."""
    template = json.loads(json.dumps(pod))
    [container] = template["spec"]["containers"]
    if os.environ.get(SERVICE_ACCOUNT_ENV):
        template["spec"]["serviceAccountName"] = os.environ[
            SERVICE_ACCOUNT_ENV]
    container["name"] = CONTAINER
    container["command"] = ["python", "-m",
                            "components.trainer.fresh_process", request_uri]
    replica = {"restartPolicy": "Never", "template": template}
    specs = {"Chief": {"replicas": 1, **replica}}
    if workers > 1:
        specs["Worker"] = {"replicas": workers - 1, **replica}
    metadata = {"name": name, "labels": {
        key: label_value(value) for key, value in (labels or {}).items()}}
    owner = owner_reference()
    if owner:
        metadata["ownerReferences"] = [owner]
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "TFJob",
        "metadata": metadata,
        "spec": {
            "runPolicy": {"backoffLimit": 0, "cleanPodPolicy": "Running",
                          "activeDeadlineSeconds": deadline_seconds},
            "tfReplicaSpecs": specs}}


def label_value(value: str) -> str:
    """`value` as a Kubernetes label value (63 characters at most, letters,
    digits, '-', '_' and '.', alphanumeric at both ends)."""
    return _LABEL_VALUE.sub("-", str(value))[:63].strip("-_.")


def owner_reference() -> Optional[Dict[str, Any]]:
    """The Trainer task's pod as the TFJob's owner, when the pod says who
    it is (the downward API), else None."""
    name, uid = os.environ.get(POD_NAME_ENV), os.environ.get(POD_UID_ENV)
    if not (name and uid):
        return None
    return {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}


def job_name() -> str:
    """A name of the TFJob this Trainer attempt makes (DNS-1123)."""
    return f"trainer-{uuid.uuid4().hex[:12]}"


def request_uri(model_uri: str, name: str) -> str:
    """Where the request goes: beside the Trainer's outputs on the
    pipeline root, which every replica's pod reaches."""
    trainer_dir = os.path.dirname(os.path.dirname(model_uri.rstrip("/")))
    return os.path.join(trainer_dir, ".tfjob", f"{name}.json")


def write_request(uri: str, request: Dict[str, Any]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(uri))
    with tf.io.gfile.GFile(uri, "w") as f:
        json.dump(request, f)


def _api():
    """The Kubernetes API: the pod's service account in a cluster, else
    the kube config (KUBECONFIG)."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    try:
        config.load_incluster_config()
    except config.ConfigException:
        # Named here: the client reads KUBECONFIG when it is imported.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return client.CustomObjectsApi()


def _namespace() -> str:
    """The namespace the Trainer's pod runs in (where its TFJob goes)."""
    if os.path.isfile(_SERVICE_ACCOUNT_NAMESPACE):
        with open(_SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as f:
            return f.read().strip()
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    try:
        _, context = config.list_kube_config_contexts(
            config_file=os.environ.get("KUBECONFIG"))
        return context["context"].get("namespace") or "default"
    except (config.ConfigException, KeyError, TypeError):
        return "default"


def _state(job: Dict[str, Any]):
    """(the last condition's type, its message), or (None, "")."""
    conditions = (job.get("status") or {}).get("conditions") or []
    for condition in reversed(conditions):
        if condition.get("status") == "True":
            return condition.get("type"), condition.get("message", "")
    return None, ""


def _print(line: str) -> None:
    print(line, flush=True)


def run(job: Dict[str, Any], wait_seconds: int, echo=_print) -> None:
    """Creates the TFJob, waits until it succeeds, and deletes it.

    Raises:
      TFJobFailed: it failed (the operator's message), or it did not
        finish within `wait_seconds`.
    """
    from kubernetes.client import rest  # pylint: disable=import-outside-toplevel
    api = _api()
    namespace = _namespace()
    name = job["metadata"]["name"]
    # A task stopped with SIGTERM (a cancelled run) ends through `finally`,
    # which deletes the job; the handler is in place before the job exists.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main \
        else None
    created = False
    try:
        try:
            api.create_namespaced_custom_object(GROUP, VERSION, namespace,
                                                PLURAL, job)
            created = True
        except rest.ApiException as error:
            raise TFJobFailed(
                f"the Kubernetes API refused TFJob {namespace}/{name} "
                f"({error.status} {error.reason}: {error.body}); is the "
                "Kubeflow Training Operator installed, and may the "
                "pipeline's service account create tfjobs.kubeflow.org?"
            ) from None
        workers = sum(spec["replicas"]
                      for spec in job["spec"]["tfReplicaSpecs"].values())
        echo(f"Trainer: TFJob {namespace}/{name} of {workers} replicas "
             "created")
        _wait(api, namespace, name, wait_seconds, echo)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        if created:
            try:
                api.delete_namespaced_custom_object(GROUP, VERSION,
                                                    namespace, PLURAL, name)
            except rest.ApiException:
                pass


def _wait(api, namespace: str, name: str, wait_seconds: int, echo) -> None:
    """Until the job succeeds; TFJobFailed when it fails or takes too
    long. A busy or briefly absent API server is asked again."""
    from kubernetes.client import rest  # pylint: disable=import-outside-toplevel
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            state, message = _state(api.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name))
        except rest.ApiException as error:
            if error.status not in _TRANSIENT or (
                    time.monotonic() > deadline):
                raise TFJobFailed(
                    f"reading TFJob {namespace}/{name} failed "
                    f"({error.status} {error.reason})") from None
            time.sleep(_POLL_SECONDS)
            continue
        if state == "Succeeded":
            echo(f"Trainer: TFJob {namespace}/{name} succeeded")
            return
        if state == "Failed":
            raise TFJobFailed(f"TFJob {namespace}/{name} failed: "
                              f"{message or 'no reason given'}")
        if time.monotonic() > deadline:
            raise TFJobFailed(
                f"TFJob {namespace}/{name} did not finish within "
                f"{wait_seconds} s (last state: {state or 'none'}); see "
                "its pods' events and logs.")
        time.sleep(_POLL_SECONDS)


# API answers worth another look: the server busy or briefly away.
_TRANSIENT = (429, 500, 502, 503, 504)


def _exit_on_sigterm(signum, frame):  # pylint: disable=unused-argument
    raise SystemExit(128 + signal.SIGTERM)
