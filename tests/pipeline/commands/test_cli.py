"""The command line, as users and release checks call it.

Runs `python -m pipeline run` as a subprocess: the Beam runner end to end
with 2 CPU replicas, a cached re-run, an interrupted run that resumes, and
bad input that stops before any component runs.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from components.trainer import settings as trainer_settings
from pipeline import nodes
from tests.pipeline import helpers


@pytest.fixture(scope="module")
def beam_runs(tmp_path_factory, tfds_data_dir):
    output = tmp_path_factory.mktemp("beam")
    args = helpers.cli_args(output, tfds_data_dir, "--runner", "beam",
                            "--cpu-replicas", "2", "--beam-workers", "2",
                            "--beam-mode", "multi_processing",
                            "--validate-every", "1")
    results = []
    for _ in range(2):
        result = helpers.run_cli(args)
        assert result.returncode == 0, result.stdout + result.stderr
        with open(output / "last_run.json", encoding="utf-8") as f:
            results.append((result, json.load(f)))
    return output, results


@pytest.mark.slow
def test_beam_runner_runs_every_component(beam_runs):
    _, [(result, summary), _] = beam_runs
    assert summary["runner"] == "beam"
    assert helpers.statuses(summary) == {n: "executed" for n in helpers.NODES}
    assert summary["blessed"] is True
    assert summary["pushed_model"]
    helpers.check_signatures(summary["pushed_model"])
    # Quiet console: one line per component, then the summary.
    for node in helpers.NODES:
        assert f"  {node}." in result.stdout
    assert "Epoch 1/2" not in result.stdout  # Keras logs go to the log file
    assert "accuracy" in result.stdout and "pushed:" in result.stdout


@pytest.mark.slow
def test_two_cpu_replicas_train_in_sync(beam_runs):
    output, _ = beam_runs
    record = helpers.training_records(output)[0]
    assert record["strategy"] == "MirroredStrategy"
    assert record["num_replicas_in_sync"] == 2
    assert len(record["devices"]) == 2
    assert record["global_batch_size"] == 2 * 64
    # --validate-every 1: the eval split after each of the 2 epochs.
    assert len(record["history"]["val_accuracy"]) == 2


@pytest.mark.slow
def test_beam_rerun_is_cached_and_pushes_nothing(beam_runs):
    output, [(_, first), (result, second)] = beam_runs
    assert all(s == "cached" for n, s in helpers.statuses(second).items()
               if n in helpers.CACHEABLE)
    assert second["pushed_model"] is None
    assert "nothing new" in result.stdout
    assert helpers.serving_versions(os.path.join(output, "serving")) == [
        os.path.basename(first["pushed_model"])]


@pytest.mark.slow
def test_interrupted_run_resumes_from_cache(tmp_path, tfds_data_dir):
    args = helpers.cli_args(tmp_path, tfds_data_dir)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    process = subprocess.Popen(args, cwd=helpers.REPO, env=env,
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    trainer_started = False
    while time.monotonic() < deadline and process.poll() is None:
        logs = [os.path.join(tmp_path, "logs", n)
                for n in os.listdir(tmp_path / "logs")] if (
            tmp_path / "logs").is_dir() else []
        text = "".join(open(p, encoding="utf-8", errors="replace").read()
                       for p in logs)
        if "Component Trainer is running" in text:
            trainer_started = True
            process.send_signal(signal.SIGKILL)  # a crash, not a clean stop
            break
        time.sleep(0.5)
    process.wait(timeout=60)
    assert trainer_started, "the run ended before the Trainer started"
    # What had finished when it was killed (StatisticsGen may have been
    # running beside the Trainer: launching.py).
    finished = set(re.findall(r"Component (\S+) is finished", "".join(
        open(p, encoding="utf-8", errors="replace").read() for p in logs)))
    assert {nodes.EXAMPLE_GEN, nodes.TRANSFORM} <= finished, finished

    result = helpers.run_cli(args)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "last_run.json", encoding="utf-8") as f:
        summary = json.load(f)
    statuses = helpers.statuses(summary)
    for node in finished & set(helpers.CACHEABLE):
        assert statuses[node] == "cached", statuses
    assert statuses[nodes.TRAINER] == "executed"
    assert summary["pushed_model"]

    # Once a run succeeded, a re-run on the same data and settings runs
    # the compiled pipeline the local runner kept: every node found in the
    # cache, and neither TensorFlow nor Beam imported (the log file gets
    # the process's stderr, where Python writes what it imports).
    result = helpers.run_cli(args, env=dict(os.environ,
                                            PYTHONPROFILEIMPORTTIME="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "last_run.json", encoding="utf-8") as f:
        rerun = json.load(f)
    assert all(status == "cached" for node, status in
               helpers.statuses(rerun).items() if node in helpers.CACHEABLE)
    log = re.search(r"^Log: (.*)$", result.stdout, re.M).group(1)
    with open(log, encoding="utf-8", errors="replace") as f:
        imported = result.stderr + f.read()
    assert re.search(r"\|\s+tfx\.orchestration\.portable\.launcher$",
                     imported, re.M), "no import times in the log"
    # A deferred import is listed too, as a top-level name that took
    # microseconds; a package that really loads imports its submodules.
    for heavy in ("tensorflow.python", "apache_beam.coders",
                  "tensorflow_datasets.core"):
        assert not re.search(rf"\|\s+{re.escape(heavy)}$", imported,
                             re.M), heavy


def test_unknown_dataset_suggests_names_and_runs_nothing(tmp_path):
    result = helpers.run_cli(
        [sys.executable, "-m", "pipeline", "run", "--dataset", "fashion_mnst",
         "--output-dir", str(tmp_path)])
    assert result.returncode == 1
    assert "no dataset named 'fashion_mnst'" in result.stderr
    assert "Did you mean fashion_mnist" in result.stderr
    assert not (tmp_path / "pipeline_root").exists()
    assert not (tmp_path / "last_run.json").exists()


@pytest.mark.parametrize("flags,message", [
    (["--epochs", "0"], "epochs must be a positive whole number, got 0"),
    (["--runner", "kubeflow"], "'kubeflow' is not one of 'local', 'beam'"),
    (["--min-accuracy", "2"], "minimum accuracy must be between 0 and 1"),
    (["--beam-mode", "fast"], "'fast' is not one of"),
    (["--parallel-nodes", "0"], "0 is not in the range x>=1"),
    (["--runner", "beam", "--parallel-nodes", "2"],
     "--parallel-nodes is for the local runner"),
])
def test_invalid_settings_exit_2_before_anything_runs(tmp_path, flags,
                                                      message):
    result = helpers.run_cli([sys.executable, "-m", "pipeline", "run",
                              "--output-dir", str(tmp_path / "out"),
                              *flags])
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = helpers.run_cli([sys.executable, "-m", "pipeline", "run",
                              "--output-dir", str(blocker / "out")])
    assert result.returncode == 2
    assert "cannot be created" in result.stderr


def test_help_shows_examples():
    result = helpers.run_cli([sys.executable, "-m", "pipeline", "run", "--help"])
    assert result.returncode == 0
    assert "python -m pipeline run --output-dir output" in result.stdout
    assert "--tfds-manual-dir" in result.stdout


def test_compile_kubeflow_writes_a_package(tmp_path):
    output = tmp_path / "pipeline.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(output), "--image", "gcr.io/p/tfds:1",
        "--pipeline-root", "gs://bucket/root", "--trainer-gpus", "1",
        "--metadata", "mysql://mlmd@mysql:3306/metadb", "--epochs", "3",
        "--trainer-cpu", "4", "--trainer-memory", "16Gi",
        "--memory-request", "1Gi"])
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert "resourceMemoryLimit: 16Gi" in text
    assert "resourceCpuLimit: '4'" in text
    assert "resourceMemoryRequest: 1Gi" in text
    assert "pipeline.runners.node_entrypoint" in text
    assert "nvidia.com/gpu" in text
    assert "epochs: int [Default: 3.0]" in text


def test_compile_vertex_writes_a_pipeline_job(tmp_path):
    output = tmp_path / "pipeline.json"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "vertex",
        "--output", str(output), "--image", "us-docker.pkg.dev/p/r/t:1",
        "--pipeline-root", "gs://bucket/root", "--metadata", "grpc://h:1",
        "--trainer-gpus", "1", "--epochs", "3"])
    assert result.returncode == 0, result.stderr
    assert "--metadata is not used for --target vertex" in result.stderr
    job = json.loads(output.read_text())
    trainer = job["pipelineSpec"]["root"]["dag"]["tasks"][nodes.TRAINER]
    custom = json.loads(trainer["inputs"]["parameters"]["custom_config"][
        "runtimeValue"]["constantValue"]["stringValue"])
    [pool] = custom["ai_platform_training_args"]["worker_pool_specs"]
    assert pool["machine_spec"] == {"machine_type": "n1-standard-8",
                                    "accelerator_type": "NVIDIA_TESLA_T4",
                                    "accelerator_count": 1}
    assert trainer_settings.read(custom).epochs == 3


@pytest.mark.parametrize("extra,message", [
    (["--target", "vertex", "--metadata-secret", "s:k"],
     "--metadata-secret does not apply to --target vertex"),
    (["--project", "p"], "--project does not apply to --target kubeflow"),
    (["--metadata", "http://nowhere"], "metadata URL 'http://nowhere'"),
    (["--trainer-node-selector", "gpu"], "node selector 'gpu' is not"),
    (["--trainer-memory", "8 gigs"], "trainer memory '8 gigs' is not a"),
    (["--cpu-limit", "two"], "cpu limit 'two' is not a Kubernetes CPU"),
    (["--schema", "/etc/hostname"], "containers cannot read"),
])
def test_compile_rejects_bad_settings(tmp_path, extra, message):
    output = tmp_path / "p.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", *extra,
        "--output", str(output), "--image", "img",
        "--pipeline-root", "gs://b/r"]
        + ([] if "--target" in extra else ["--target", "kubeflow"]))
    assert result.returncode == 2
    assert message in result.stderr
    assert not output.exists()


PASSWORD = "Hunter2pw"


def _files_holding(directory, text):
    found = []
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                if text.encode() in f.read():
                    found.append(os.path.join(root, name))
    return found


@pytest.mark.parametrize("target", ["kubeflow", "vertex"])
@pytest.mark.parametrize("metadata", [
    ["--metadata", f"mysql://mlmd:{PASSWORD}@mysql:3306/metadb"],
    [f"--metadata=mysql://mlmd:{PASSWORD}@mysql/metadb"],
    ["--metadata", f"mysql://mlmd:{PASSWORD}%21%40@mysql/metadb"],
])
def test_compile_refuses_a_password_and_writes_it_nowhere(tmp_path, target,
                                                          metadata):
    output = tmp_path / "package"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", target,
        "--output", str(output), "--image", "img",
        "--pipeline-root", "gs://b/r", *metadata])
    assert result.returncode == 2
    assert "--metadata-secret" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "mysql://mlmd:***@mysql:3306/metadb" in result.stderr
    assert not output.exists()
    assert _files_holding(tmp_path, PASSWORD) == []


def test_compile_never_writes_the_password_from_the_environment(tmp_path):
    """MLMD_MYSQL_PASSWORD is for the tasks at run time (from the secret);
    a compile on a machine that has it set must not embed it."""
    output = tmp_path / "pipeline.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(output), "--image", "img",
        "--pipeline-root", "gs://b/r",
        "--metadata", "mysql://mlmd@mysql:3306/metadb",
        "--metadata-secret", "mlmd-mysql:password"],
        env=dict(os.environ, MLMD_MYSQL_PASSWORD=PASSWORD))
    assert result.returncode == 0, result.stderr
    assert "mysql://mlmd@mysql:3306/metadb" in output.read_text()
    assert _files_holding(tmp_path, PASSWORD) == []
    assert PASSWORD not in result.stdout + result.stderr


def test_compile_checks_no_paths_of_this_machine(tmp_path):
    """The tasks read the manual dir (on the volume they mount) and write
    outputs in their own containers; this machine need not have either."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    output = tmp_path / "pipeline.yaml"
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(output), "--image", "img",
        "--pipeline-root", "gs://b/r",
        "--volume", "datasets:/mnt/datasets",
        "--tfds-manual-dir", "/mnt/datasets/fashion_mnist",
        "--output-dir", str(blocker / "out")])
    assert result.returncode == 0, result.stderr
    from pipeline.runners import node_entrypoint  # pylint: disable=import-outside-toplevel
    from tests import kfp_local  # pylint: disable=import-outside-toplevel
    spec, _ = kfp_local.load(str(output))
    args = next(iter(spec["deploymentSpec"]["executors"].values()))[
        "container"]["args"]
    ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
    assert "/mnt/datasets/fashion_mnist" in str(ir)


def test_summary_says_no_new_data_and_what_ran_anyway():
    from pipeline.commands import run  # pylint: disable=import-outside-toplevel
    summary = {"wall_seconds": 11.0, "metrics": {}, "blessed": True,
               "pushed_model": None, "serving_model": "s/1",
               "data": {"new": False, "note": "no new data"},
               "components": {nodes.TRAINER: {"status": "cached"},
                              nodes.BASELINE_RESOLVER: {
                                  "status": "executed"}}}
    assert "no new data: every component cached, nothing retrained" in \
        run.format_summary(summary, "last_run.json")
    summary["components"][nodes.TRAINER]["status"] = "executed"
    assert "no new data, but Trainer ran again (changed settings or code)" \
        in run.format_summary(summary, "last_run.json")
