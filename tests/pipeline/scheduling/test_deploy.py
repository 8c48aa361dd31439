"""deploy and schedule, against a local stand-in for the KFP v2 and Vertex
AI REST APIs (tests/api_standin.py). The stand-in is not a cluster: these
tests prove what the product sends and how it reports failures, not that a
real backend runs the pipeline (the local Kubeflow run test does that part
for the package itself)."""

import json
import sys

import pytest
import yaml

import pipeline_config as pc
from pipeline.scheduling import deploy
from pipeline.runners import kubeflow as kubeflow_runner
from pipeline.runners import vertex as vertex_runner
from tests import api_standin
from tests.pipeline import helpers


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packages")
    config = helpers.tiny_config(tmp / "out", str(tmp / "tfds"))
    # A local pipeline root keeps the Vertex SDK from looking for a bucket.
    config = pc.dataclasses.replace(config, remote_root=str(tmp / "root"))
    kfp_package = str(tmp / "pipeline.yaml")
    kubeflow_runner.compile_package(
        config, pc.KubeflowConfig(image="img:1", volumes=(("data", str(tmp)),)),
        kfp_package)
    vertex_package = str(tmp / "pipeline.json")
    vertex_runner.compile_job(config, pc.VertexConfig(image="img:1"),
                              vertex_package)
    return kfp_package, vertex_package


def _cli(*args, env=None):
    return helpers.run_cli([sys.executable, "-m", "pipeline", *args],
                           timeout=300, env=env)


def test_deploy_uploads_versions_and_starts_a_run(packages):
    kfp_package, _ = packages
    with api_standin.serving() as (url, state):
        first = _cli("deploy", "--target", "kubeflow", "--package",
                     kfp_package, "--host", url)
        assert first.returncode == 0, first.stderr
        second = _cli("deploy", "--target", "kubeflow", "--package",
                      kfp_package, "--host", url, "--experiment", "nightly",
                      "--param", "epochs=7")
        assert second.returncode == 0, second.stderr
        [pipeline] = state.pipelines.values()
        assert pipeline["display_name"] == "tiny-images-e2e"
        assert len(pipeline["versions"]) == 2
        with open(kfp_package, encoding="utf-8") as f:
            assert pipeline["versions"][1][2] == f.read()
        assert first.stdout.count("Run ") == 0
        [run] = state.runs.values()
        assert run["pipeline_version_reference"]["pipeline_version_id"] == \
            pipeline["versions"][1][0]
        assert run["runtime_config"]["parameters"] == {"epochs": 7}
        assert state.experiments[run["experiment_id"]] == "nightly"


def test_schedule_creates_one_recurring_run_without_overlap_or_catchup(
        packages):
    kfp_package, _ = packages
    with api_standin.serving() as (url, state):
        result = _cli("schedule", "--target", "kubeflow", "--package",
                      kfp_package, "--host", url, "--cron", "30 2 * * mon-fri")
        assert result.returncode == 0, result.stderr
        [recurring] = state.recurring_runs.values()
        assert recurring["trigger"] == {"cron_schedule": {
            "cron": "0 30 2 * * mon-fri"}}
        assert int(recurring["max_concurrency"]) == 1
        assert recurring["no_catchup"] is True
        assert recurring["mode"] == "ENABLE"
        assert state.experiments[recurring["experiment_id"]] == \
            "tiny-images-e2e"
        [pipeline] = state.pipelines.values()
        assert recurring["pipeline_version_reference"][
            "pipeline_version_id"] == pipeline["versions"][-1][0]
        # Each tick first decides whether anything changed.
        assert recurring["runtime_config"]["parameters"] == {
            deploy.ONLY_IF_CHANGED: True}
        every_tick = _cli("schedule", "--target", "kubeflow", "--package",
                          kfp_package, "--host", url, "--cron", "@daily",
                          "--param", "only_if_changed=false",
                          "--param", "epochs=3")
        assert every_tick.returncode == 0, every_tick.stderr
        assert list(state.recurring_runs.values())[-1]["runtime_config"][
            "parameters"] == {deploy.ONLY_IF_CHANGED: False, "epochs": 3}


@pytest.mark.parametrize("args,code,message", [
    (["--cron", "0 3 * *"], 2, "cron expression '0 3 * *' is not valid"),
    (["--cron", "61 * * * *"], 2, "cron expression '61 * * * *'"),
    (["--cron", "@daily", "--param", "epoch=3"], 1,
     "parameter 'epoch=3' is not NAME=VALUE"),
    (["--cron", "@daily", "--param", "epochs=many"], 1,
     "parameter epochs takes a number_integer"),
])
def test_bad_input_is_refused_before_any_call(packages, args, code, message):
    kfp_package, _ = packages
    with api_standin.serving() as (url, state):
        result = _cli("schedule", "--target", "kubeflow", "--package",
                      kfp_package, "--host", url, *args)
        assert result.returncode == code
        assert message in result.stderr
        assert state.requests == []


def test_refused_credentials_are_one_message(packages):
    kfp_package, _ = packages
    with api_standin.serving(token="right") as (url, state):
        result = _cli("deploy", "--target", "kubeflow", "--package",
                      kfp_package, "--host", url, "--token", "wrong")
        assert result.returncode == 1
        assert "refused the credentials (401)" in result.stderr
        assert "Traceback" not in result.stderr
        assert not state.pipelines
        accepted = _cli("deploy", "--target", "kubeflow", "--package",
                        kfp_package, "--host", url, "--token", "right")
        assert accepted.returncode == 0, accepted.stderr
        assert state.pipelines


def test_unreachable_host_is_one_message(packages):
    kfp_package, _ = packages
    with api_standin.serving() as (url, _):
        pass  # Closed again: nothing listens on that port now.
    result = _cli("deploy", "--target", "kubeflow", "--package", kfp_package,
                  "--host", url)
    assert result.returncode == 1
    assert f"cannot reach Kubeflow Pipelines at {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_vertex_job_is_not_a_kubeflow_package(packages):
    _, vertex_package = packages
    with pytest.raises(deploy.DeployError, match="is a Vertex PipelineJob"):
        deploy.read_package(vertex_package, "kubeflow")


def _vertex(url):
    from google.auth.credentials import AnonymousCredentials  # pylint: disable=import-outside-toplevel
    return deploy.Vertex(project="proj", region="europe-west4",
                         api_endpoint=url, credentials=AnonymousCredentials())


def test_vertex_submit_and_schedule(packages):
    _, vertex_package = packages
    package = deploy.read_package(vertex_package, "vertex")
    with open(vertex_package, encoding="utf-8") as f:
        compiled = json.load(f)
    with api_standin.serving() as (url, state):
        job = deploy.vertex_submit(package, _vertex(url))
        assert job.startswith(
            "projects/proj/locations/europe-west4/pipelineJobs/")
        schedule = deploy.vertex_schedule(package, _vertex(url), "0 3 * * *")
        assert schedule.startswith(
            "projects/proj/locations/europe-west4/schedules/")
        body = state.vertex[job]
        assert body["pipelineSpec"]["root"] == compiled["pipelineSpec"]["root"]
        assert body["runtimeConfig"]["gcsOutputDirectory"] == \
            compiled["runtimeConfig"]["gcsOutputDirectory"]
        request = state.vertex[schedule]
        assert request["cron"] == "0 3 * * *"
        assert int(request["maxConcurrentRunCount"]) == 1
        assert not request.get("allowQueueing", False)
        assert request["createPipelineJobRequest"]["parent"] == \
            "projects/proj/locations/europe-west4"


def test_vertex_without_credentials_is_one_message(packages, tmp_path):
    _, vertex_package = packages
    env = dict(__import__("os").environ,
               GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing.json"))
    result = _cli("deploy", "--target", "vertex", "--package",
                  vertex_package, "--project", "proj", env=env)
    assert result.returncode == 1
    assert "no usable Google Cloud credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_kfp_package_names_its_parameters(packages):
    kfp_package, _ = packages
    package = deploy.read_package(kfp_package, "kubeflow")
    with open(kfp_package, encoding="utf-8") as f:
        name = next(yaml.safe_load_all(f))["pipelineInfo"]["name"]
    assert package.name == name
    assert package.parameters == {"epochs": "NUMBER_INTEGER",
                                  "dataset_version": "STRING",
                                  deploy.ONLY_IF_CHANGED: "BOOLEAN"}
    assert package.values(["epochs=3", "dataset_version=2.0.0",
                           "only_if_changed=True"]) == {
        "epochs": 3, "dataset_version": "2.0.0",
        deploy.ONLY_IF_CHANGED: True}
    with pytest.raises(deploy.DeployError,
                       match="only_if_changed takes true or false, got 'y'"):
        package.values(["only_if_changed=y"])
