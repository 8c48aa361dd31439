"""The Beam steps on a real Flink cluster (tests/flink.py: a JobManager and
two TaskManagers on loopback), through Beam's Flink job server: with the SDK
workers in this project's image as Beam's EXTERNAL worker pool, as Flink on
Kubernetes runs Beam, and in the submitting process (LOOPBACK) through a
job server that is already running. Each run must compute what the
DirectRunner computes."""

import contextlib
import glob
import os
import socket
import subprocess
import time

import pytest

from tests import containers
from tests import flink
from tests import ports
from tests import servers
from tests.pipeline import helpers

pytestmark = pytest.mark.slow

# What the runs on Flink are compared on: every feature's numbers in each
# split's statistics, and every metric the Evaluator computed, per slice.
_NUMERIC_FIELDS = ("min", "max", "mean", "std_dev", "num_zeros")


def _statistics(output_dir) -> dict:
    import tensorflow_data_validation as tfdv  # pylint: disable=import-outside-toplevel
    found = {}
    for path in glob.glob(os.path.join(
            output_dir, "pipeline_root", "StatisticsGen", "statistics", "*",
            "Split-*", "FeatureStats.pb")):
        split = os.path.basename(os.path.dirname(path))
        for dataset in tfdv.load_stats_binary(path).datasets:
            found[(split, "num_examples")] = dataset.num_examples
            for feature in dataset.features:
                name = feature.path.step[0]
                stats = feature.num_stats
                found[(split, name, "non_missing")] = (
                    stats.common_stats.num_non_missing)
                for field in _NUMERIC_FIELDS:
                    found[(split, name, field)] = round(
                        float(getattr(stats, field)), 6)
    assert found, f"no statistics under {output_dir}"
    return found


def _metrics(output_dir) -> dict:
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    [uri] = glob.glob(os.path.join(output_dir, "pipeline_root", "Evaluator",
                                   "evaluation", "*"))
    found = {}
    for metrics in tfma.load_metrics(uri):
        for entry in metrics.metric_keys_and_values:
            key = (str(metrics.slice_key).replace("\n", " "),
                   entry.key.name, entry.key.model_name, entry.key.is_diff,
                   str(entry.key.sub_key).replace("\n", " "))
            found[key] = round(entry.value.double_value.value, 6)
    assert found, f"no metrics under {uri}"
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    flink.job_server_jar()
    with flink.running(str(tmp_path_factory.mktemp("flink"))) as running:
        yield running


@pytest.fixture(scope="module")
def direct_run(tmp_path_factory, tfds_data_dir):
    output = tmp_path_factory.mktemp("direct") / "out"
    result = helpers.run_cli(helpers.cli_args(output, tfds_data_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@contextlib.contextmanager
def _worker_pool(image_tag: str, shared_dir: str, log):
    """This project's image as Beam's EXTERNAL worker pool on loopback, as
    `boot --worker_pool` runs it beside a TaskManager (the same program, on
    a free port instead of boot's fixed 50000): each SDK worker it starts is
    the image's boot, which runs Beam's SDK harness in the image's venv.
    `shared_dir` (the test session's folders, the TFDS data's and the
    runs') is mounted at its own path, as a shared volume would hold the
    pipeline's files. The workers run as this host's user (root), who made
    the folders they write in: on a cluster they share the volume's or
    the bucket's permissions with the pipeline instead. The pool's output
    goes to `log`."""
    port = ports.free_port()
    name = f"beam-worker-pool-{port}"
    containers.podman(
        "run", "-d", "--rm", "--network", "host", "--name", name,
        "--user", "0", "-v", f"{shared_dir}:{shared_dir}",
        "--entrypoint", "python", image_tag,
        "-m", "apache_beam.runners.worker.worker_pool_main",
        f"--service_port={port}",
        "--container_executable=/opt/apache/beam/boot")
    try:
        # As a readiness probe would: the pool's Python takes seconds to
        # listen, and a run checks it within a second of its start.
        servers.wait_until_up(
            lambda: socket.create_connection(("localhost", port), 1).close(),
            [], 120, f"the worker pool in {image_tag} did not listen on "
            f"port {port} within 120 s")
        yield f"localhost:{port}"
    finally:
        logs = subprocess.run(["podman", "logs", name],
                              env=containers.engine_env(), check=False,
                              capture_output=True, text=True)
        log.write_text(logs.stdout + logs.stderr, encoding="utf-8")
        subprocess.run(["podman", "rm", "-f", name],
                       env=containers.engine_env(), check=False,
                       capture_output=True)


def _run_on_flink(output, tfds_data_dir, cluster, parallelism, *extra):
    before = {job["jid"] for job in cluster.jobs()}
    result = helpers.run_cli(helpers.cli_args(
        output, tfds_data_dir, "--beam-runner", "flink",
        "--flink-master", cluster.master,
        "--flink-parallelism", str(parallelism), *extra))
    assert result.returncode == 0, result.stderr[-3000:]
    return [job for job in cluster.jobs() if job["jid"] not in before]


def _check_same_as_direct(output, direct_run, cluster, jobs, parallelism):
    summary = helpers.read_summary(output / "last_run.json")
    assert summary["blessed"] and summary["pushed_model"]
    assert _statistics(output) == _statistics(direct_run)
    assert _metrics(output) == _metrics(direct_run)
    # ExampleGen, StatisticsGen and the Evaluator each ran one Flink job
    # (Transform has no analyzer and writes nothing, so it runs none), at
    # the parallelism asked for.
    assert len(jobs) == 3, jobs
    assert {job["state"] for job in jobs} == {"FINISHED"}
    for job in jobs:
        vertices = cluster.get(f"/jobs/{job['jid']}")["vertices"]
        assert max(vertex["parallelism"] for vertex in vertices) == (
            parallelism), vertices


def test_beam_steps_on_flink_with_the_image_as_worker_pool(
        tmp_path, tmp_path_factory, tfds_data_dir, cluster, direct_run):
    image = containers.build()
    output = tmp_path / "out"
    # A worker pool serves one TaskManager, as beside each TaskManager in
    # its pod on Kubernetes: it knows SDK workers by ids that every
    # TaskManager numbers alike, and stops them by id. With host networking
    # only, two TaskManagers here cannot each have a pool of their own at
    # the one address the pipeline names, so each job runs in one slot
    # (parallelism 1): in one TaskManager, whichever Flink picks.
    log = tmp_path / "worker-pool.log"
    with _worker_pool(image.tag, str(tmp_path_factory.getbasetemp()),
                      log) as pool:
        jobs = _run_on_flink(output, tfds_data_dir, cluster, 1,
                             "--flink-worker-pool", pool,
                             "--beam-worker-image", image.tag)
    _check_same_as_direct(output, direct_run, cluster, jobs, parallelism=1)
    pool_log = log.read_text(encoding="utf-8")
    # The SDK workers were the image's: boot started them, in its venv.
    assert "/opt/apache/beam/boot" in pool_log, pool_log[-2000:]


def test_beam_steps_on_flink_loopback_through_a_running_job_server(
        tmp_path, tfds_data_dir, cluster, direct_run):
    """LOOPBACK (the SDK workers in the run's process), every step sent to
    one job server that was running before the run, as one runs beside a
    cluster for compiled packages (whose image has no Java)."""
    output = tmp_path / "out"
    with flink.job_server(cluster, str(tmp_path)) as endpoint:
        jobs = _run_on_flink(output, tfds_data_dir, cluster, 2,
                             "--flink-job-endpoint", endpoint)
    _check_same_as_direct(output, direct_run, cluster, jobs, parallelism=2)
    log = (tmp_path / "job-server.log").read_text(encoding="utf-8")
    assert log.count("Invoking job") == 3, log[-3000:]


def test_a_flink_master_that_does_not_answer_stops_the_run_first(tmp_path,
                                                                tfds_data_dir):
    flink.job_server_jar()
    output = tmp_path / "out"
    started = time.monotonic()
    result = helpers.run_cli(helpers.cli_args(
        output, tfds_data_dir, "--beam-runner", "flink",
        "--flink-master", f"localhost:{ports.free_port()}"))
    assert result.returncode == 1
    assert "the Flink master localhost:" in result.stderr
    assert "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (output / "pipeline_root").exists()
    assert time.monotonic() - started < 60


def test_a_missing_job_server_jar_stops_the_run_first(tmp_path,
                                                     tfds_data_dir, cluster):
    output = tmp_path / "out"
    result = helpers.run_cli(helpers.cli_args(
        output, tfds_data_dir, "--beam-runner", "flink",
        "--flink-master", cluster.master,
        "--flink-job-server-jar", str(tmp_path / "missing.jar")))
    assert result.returncode == 1
    assert (f"Beam's Flink job server {tmp_path / 'missing.jar'} is not "
            "there: build it with `make flink-job-server`") in result.stderr
    assert not (output / "pipeline_root").exists()
