"""Ship a compiled pipeline: upload, run, schedule on KFP or Vertex AI.

Kubeflow Pipelines through kfp's own `Client` (KFP v2 REST API), Vertex AI
through google-cloud-aiplatform's `PipelineJob`. Everything that can be
checked locally (the package, its parameters, the cron expression) is
checked before the first call; a host that cannot be reached or refuses the
credentials is one clear `DeployError`.
"""

import dataclasses
import datetime
import json
import os
from typing import Dict, Optional

import yaml

from pipeline.scheduling import cron

HEALTHZ = "/apis/v2beta1/healthz"
# The Kubeflow package's parameter that makes a run stop after its decide
# task when nothing changed (see pipeline/runners/kubeflow.py); a schedule
# sets it unless told otherwise.
ONLY_IF_CHANGED = "only_if_changed"
PROBE_TIMEOUT_SECONDS = 10


class DeployError(RuntimeError):
    """A deploy or schedule that cannot go ahead, with what to do."""


@dataclasses.dataclass(frozen=True)
class Package:
    """A compiled pipeline file, read and checked."""
    path: str
    name: str
    parameters: Dict[str, str]  # name -> KFP parameter type

    def values(self, assignments) -> dict:
        """`NAME=VALUE` strings -> typed parameter values."""
        values = {}
        for assignment in assignments:
            name, equals, text = assignment.partition("=")
            if not equals or name not in self.parameters:
                raise DeployError(
                    f"parameter {assignment!r} is not NAME=VALUE with NAME "
                    f"one of the pipeline's parameters "
                    f"{sorted(self.parameters) or '(none)'}.")
            kind = self.parameters[name]
            if kind == "BOOLEAN":
                if text.lower() not in ("true", "false"):
                    raise DeployError(f"parameter {name} takes true or "
                                      f"false, got {text!r}.")
                values[name] = text.lower() == "true"
                continue
            try:
                values[name] = (int(text) if kind == "NUMBER_INTEGER"
                                else float(text) if kind == "NUMBER_DOUBLE"
                                else text)
            except ValueError:
                raise DeployError(
                    f"parameter {name} takes a {kind.lower()}, got "
                    f"{text!r}.") from None
        return values

    def scheduled(self, values: dict) -> dict:
        """The values a recurring run gets: it stops after the decide task
        when nothing changed, unless the user set `only_if_changed`."""
        if ONLY_IF_CHANGED in self.parameters:
            return dict({ONLY_IF_CHANGED: True}, **values)
        return dict(values)


def read_package(path: str, target: str) -> Package:
    """The package at `path`, compiled for `target` (kubeflow or vertex)."""
    if os.path.isdir(path):
        raise DeployError(f"pipeline package {path!r} is a directory; pass "
                          "the file `compile` wrote.")
    if not os.path.isfile(path):
        raise DeployError(
            f"pipeline package {path!r} does not exist; write it with "
            f"`python -m pipeline compile --target {target} --output "
            f"{path} ...`.")
    try:
        with open(path, encoding="utf-8") as f:
            document = next(yaml.safe_load_all(f), None)  # JSON is YAML too.
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DeployError(f"{path!r} is not a pipeline package: "
                          f"{error}") from None
    if not isinstance(document, dict):
        raise DeployError(f"{path!r} is not a compiled pipeline (a YAML or "
                          "JSON mapping); write it with `python -m pipeline "
                          f"compile --target {target}`.")
    spec = document.get("pipelineSpec", document)
    if target == "vertex" and "pipelineSpec" not in document:
        raise DeployError(f"{path!r} is not a Vertex PipelineJob; compile "
                          "it with --target vertex.")
    if target == "kubeflow" and "pipelineSpec" in document:
        raise DeployError(f"{path!r} is a Vertex PipelineJob; compile it "
                          "with --target kubeflow for Kubeflow Pipelines.")
    try:
        name = spec["pipelineInfo"]["name"]
        root = spec["root"]
        parameters = {k: v.get("parameterType", "STRING") for k, v in
                      root.get("inputDefinitions", {}).get(
                          "parameters", {}).items()}
    except (KeyError, TypeError, AttributeError):
        raise DeployError(f"{path!r} is not a compiled pipeline (no "
                          "pipelineInfo/root).") from None
    return Package(path=path, name=name, parameters=parameters)


def version_name(package: Package) -> str:
    """A new, sortable pipeline version name."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%d-%H%M%S")
    return f"{package.name}-{stamp}"


# -- Kubeflow Pipelines -----------------------------------------------------

def _probe_kfp(host: str, token: Optional[str]) -> None:
    """Fails fast, with one message, on an unreachable host or refused
    credentials (kfp.Client itself retries its health check for 25 s)."""
    import requests  # pylint: disable=import-outside-toplevel
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(host.rstrip("/") + HEALTHZ, headers=headers,
                                timeout=PROBE_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise DeployError(
            f"cannot reach Kubeflow Pipelines at {host}: "
            f"{type(error).__name__}. Check --host (e.g. "
            "http://localhost:8080 after `kubectl port-forward -n kubeflow "
            "svc/ml-pipeline-ui 8080:80`).") from None
    if response.status_code in (401, 403):
        raise DeployError(
            f"Kubeflow Pipelines at {host} refused the credentials "
            f"({response.status_code}): pass a valid --token (or "
            "KF_PIPELINES_TOKEN).")
    if response.status_code != 200:
        raise DeployError(
            f"{host} does not answer as Kubeflow Pipelines ({HEALTHZ} gave "
            f"HTTP {response.status_code}). Check --host.")


def _kfp_call(host: str, call):
    """Runs one kfp.Client call; API errors become DeployError."""
    import kfp_server_api  # pylint: disable=import-outside-toplevel
    try:
        return call()
    except kfp_server_api.ApiException as error:
        if error.status in (401, 403):
            raise DeployError(
                f"Kubeflow Pipelines at {host} refused the credentials "
                f"({error.status}).") from None
        raise DeployError(
            f"Kubeflow Pipelines at {host} answered {error.status} "
            f"{error.reason}: {(error.body or '').strip()[:500]}") from None


@dataclasses.dataclass
class KfpResult:
    """What was created on the KFP host."""
    pipeline_id: str
    version_id: str
    experiment_id: Optional[str] = None
    run_id: Optional[str] = None
    recurring_run_id: Optional[str] = None


def _kfp_upload(client, host: str, package: Package):
    """Uploads the package as a new version of its pipeline (creating the
    pipeline on first upload); returns (pipeline id, version id)."""
    pipeline_id = _kfp_call(host, lambda: client.get_pipeline_id(
        package.name))
    name = version_name(package)
    if pipeline_id is None:
        pipeline = _kfp_call(host, lambda: client.upload_pipeline(
            package.path, pipeline_name=package.name,
            description=f"{package.name} (tfds-pipeline)"))
        pipeline_id = pipeline.pipeline_id
        versions = _kfp_call(host, lambda: client.list_pipeline_versions(
            pipeline_id, sort_by="created_at desc", page_size=1))
        return pipeline_id, versions.pipeline_versions[0].pipeline_version_id
    version = _kfp_call(host, lambda: client.upload_pipeline_version(
        package.path, pipeline_version_name=name, pipeline_id=pipeline_id))
    return pipeline_id, version.pipeline_version_id


def _kfp_client(host: str, token: Optional[str]):
    import kfp  # pylint: disable=import-outside-toplevel
    _probe_kfp(host, token)
    return _kfp_call(host, lambda: kfp.Client(host=host,
                                              existing_token=token))


def kfp_deploy(package: Package, host: str, token: Optional[str] = None,
               experiment: Optional[str] = None,
               parameters: Optional[dict] = None) -> KfpResult:
    """Uploads a new pipeline version; with `experiment`, starts a run."""
    client = _kfp_client(host, token)
    pipeline_id, version_id = _kfp_upload(client, host, package)
    result = KfpResult(pipeline_id, version_id)
    if experiment:
        result.experiment_id = _kfp_call(host, lambda: client.create_experiment(
            experiment).experiment_id)
        result.run_id = _kfp_call(host, lambda: client.run_pipeline(
            result.experiment_id, f"{package.name}-{version_id[:8]}",
            params=parameters or {}, pipeline_id=pipeline_id,
            version_id=version_id).run_id)
    return result


def kfp_schedule(package: Package, host: str, cron_expression: str,
                 experiment: str, token: Optional[str] = None,
                 parameters: Optional[dict] = None) -> KfpResult:
    """Uploads a new version and creates a recurring run of it: never two
    runs at once, no catch-up of missed ticks, and a tick that finds
    nothing changed stops after one small task (`Package.scheduled`)."""
    kfp_cron = cron.for_kfp(cron_expression)  # Before any call.
    client = _kfp_client(host, token)
    pipeline_id, version_id = _kfp_upload(client, host, package)
    result = KfpResult(pipeline_id, version_id)
    result.experiment_id = _kfp_call(host, lambda: client.create_experiment(
        experiment).experiment_id)
    result.recurring_run_id = _kfp_call(
        host, lambda: client.create_recurring_run(
            result.experiment_id, f"{package.name}-schedule",
            cron_expression=kfp_cron, max_concurrency=1, no_catchup=True,
            params=package.scheduled(parameters or {}),
            pipeline_id=pipeline_id,
            version_id=version_id).recurring_run_id)
    return result


# -- Vertex AI ---------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Vertex:
    """Where on Vertex AI."""
    project: str
    region: str
    service_account: Optional[str] = None
    # Tests point this at a local stand-in (http://127.0.0.1:PORT).
    api_endpoint: Optional[str] = None
    credentials: object = None


def _vertex_job(package: Package, vertex: Vertex, parameters: dict):
    from google.cloud import aiplatform  # pylint: disable=import-outside-toplevel
    aiplatform.init(project=vertex.project, location=vertex.region,
                    api_endpoint=vertex.api_endpoint,
                    api_transport="rest" if vertex.api_endpoint else None,
                    credentials=vertex.credentials)
    with open(package.path, encoding="utf-8") as f:
        pipeline_root = json.load(f).get("runtimeConfig", {}).get(
            "gcsOutputDirectory")
    return aiplatform.PipelineJob(
        display_name=package.name, template_path=package.path,
        pipeline_root=pipeline_root, parameter_values=parameters,
        project=vertex.project, location=vertex.region)


def _vertex_call(vertex: Vertex, call):
    from google.api_core import exceptions  # pylint: disable=import-outside-toplevel
    import google.auth.exceptions  # pylint: disable=import-outside-toplevel
    try:
        return call()
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise DeployError(
            f"no usable Google Cloud credentials ({error}): run `gcloud auth "
            "application-default login` or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a key file.") from None
    except (exceptions.Unauthenticated, exceptions.PermissionDenied) as error:
        raise DeployError(
            f"Vertex AI refused the credentials for project "
            f"{vertex.project}: {error.message}") from None
    except exceptions.GoogleAPICallError as error:
        raise DeployError(f"Vertex AI ({vertex.region}) answered: "
                          f"{error}") from None
    except (ConnectionError, OSError) as error:
        raise DeployError(f"cannot reach Vertex AI in {vertex.region}: "
                          f"{error}") from None


def vertex_submit(package: Package, vertex: Vertex,
                  parameters: Optional[dict] = None) -> str:
    """Submits one PipelineJob; returns its resource name."""
    def submit():
        job = _vertex_job(package, vertex, parameters or {})
        job.submit(service_account=vertex.service_account)
        return job.resource_name
    return _vertex_call(vertex, submit)


def vertex_schedule(package: Package, vertex: Vertex, cron_expression: str,
                    parameters: Optional[dict] = None) -> str:
    """Creates a PipelineJobSchedule: one run at a time, no queueing of
    overlapping runs (Vertex does not backfill missed runs unless a paused
    schedule is resumed with catch_up). Returns its resource name."""
    vertex_cron = cron.parse(cron_expression)  # Before any call.

    def schedule():
        job = _vertex_job(package, vertex, parameters or {})
        return job.create_schedule(
            cron=vertex_cron, display_name=f"{package.name}-schedule",
            max_concurrent_run_count=1, allow_queueing=False,
            service_account=vertex.service_account).resource_name
    return _vertex_call(vertex, schedule)
