"""Checks before any component runs: the Beam runner can be reached, the
object store answers, the dataset exists, can be prepared (offline too, from
a manual dir), has the splits asked for, and matches the committed schema. A
problem here is one clear message, not a failed run."""

import json
import os
import shutil
import socket
import urllib.error
import urllib.request
import zipfile

from components import storage
from components.tfds_example_gen.errors import DatasetError
from pipeline_config import BeamConfig, PipelineConfig


class BeamRunnerError(RuntimeError):
    """The Beam runner asked for cannot run the Beam steps; the message says
    what is missing and what to do."""


def check_beam_runner(beam: BeamConfig) -> None:
    """For Flink: the cluster answers on its REST address; the job server
    answers at its endpoint, or else its jar and Java are there and the jar
    was built for the cluster's Flink; the worker pool (EXTERNAL) accepts
    connections. Dataflow and the DirectRunner need nothing here.

    Raises:
      BeamRunnerError: which of these fails, and what to do.
    """
    if beam.runner != "flink":
        return
    if beam.flink_job_endpoint:
        cluster_version = flink_cluster_version(beam.flink_master)
        _answers(beam.flink_job_endpoint,
                 f"no Beam job server answers at --flink-job-endpoint "
                 f"{beam.flink_job_endpoint}", "start Beam's Flink job "
                 f"server for Flink {cluster_version} there "
                 "(docs/beam-runners.md), or leave the flag out to start one "
                 "per step from the jar")
    else:
        _check_job_server_jar(beam)
    pool_host = (beam.flink_worker_pool or ":").rsplit(":", 1)[0]
    master_host = beam.flink_master.rsplit(":", 1)[0]
    # A pool beside each TaskManager of a remote cluster (its pod's
    # localhost) cannot be reached from here; one of a cluster on this
    # machine can.
    if beam.flink_worker_pool and _local(master_host) and _local(pool_host):
        _answers(beam.flink_worker_pool,
                 f"no Beam worker pool answers at {beam.flink_worker_pool}",
                 "start this project's image there as `boot --worker_pool` "
                 "(docs/beam-runners.md), or leave out --flink-worker-pool "
                 "to run the SDK workers here (LOOPBACK)")


def _check_job_server_jar(beam: BeamConfig) -> None:
    jar_version = job_server_flink_version(beam.job_server_jar)
    if not shutil.which("java"):
        raise BeamRunnerError(
            "--beam-runner flink starts Beam's Flink job server with `java`, "
            "which is not on PATH: install a Java 17 runtime, or pass "
            "--flink-job-endpoint of a job server already running.")
    cluster_version = flink_cluster_version(beam.flink_master)
    if cluster_version.split(".")[:2] != jar_version.split(".")[:2]:
        raise BeamRunnerError(
            f"the Flink cluster at {beam.flink_master} runs Flink "
            f"{cluster_version}, and the job server "
            f"{beam.job_server_jar} was built for Flink {jar_version}: run a "
            f"Flink {'.'.join(jar_version.split('.')[:2])} cluster, or build "
            "the job server for yours (flink/job-server/pom.xml).")


def _answers(address: str, what: str, fix: str) -> None:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise BeamRunnerError(f"{what} ({error}): {fix}.") from None


def _local(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def job_server_flink_version(jar: str) -> str:
    """The Flink version a job server jar built by flink/job-server/pom.xml
    was built for (its manifest's Flink-Version)."""
    if not os.path.isfile(jar):
        raise BeamRunnerError(
            f"Beam's Flink job server {jar} is not there: build it with "
            "`make flink-job-server`, or pass --flink-job-server-jar.")
    try:
        with zipfile.ZipFile(jar) as archive:
            manifest = archive.read("META-INF/MANIFEST.MF").decode()
    except (zipfile.BadZipFile, KeyError) as error:
        raise BeamRunnerError(
            f"{jar} is not a job server jar ({error}): build it with `make "
            "flink-job-server`.") from None
    for line in manifest.splitlines():
        if line.startswith("Flink-Version:"):
            return line.split(":", 1)[1].strip()
    raise BeamRunnerError(
        f"{jar} does not say which Flink it was built for (no Flink-Version "
        "in its manifest): build it with `make flink-job-server`.")


def flink_cluster_version(master: str) -> str:
    """The Flink version the cluster at `master` (its REST address) runs."""
    url = f"http://{master}/config"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)["flink-version"]
    except (OSError, ValueError, KeyError) as error:
        reason = getattr(error, "reason", error)
        raise BeamRunnerError(
            f"the Flink master {master} cannot be reached ({reason}): start "
            "the cluster, or pass its REST address (the JobManager's "
            "rest.port, 8081 by default) as --flink-master.") from None


def check_storage(config: PipelineConfig) -> None:
    """The `s3://` locations of the run answer (endpoint, credentials,
    bucket), and TensorFlow can then read and write them in this process.

    Raises:
      storage.StorageError: which location, and what is wrong with it.
    """
    # The serving dir lies under the pipeline root.
    locations = [config.pipeline_root, config.dataset.data_dir]
    storage.check(locations)
    storage.enable(locations)


def check_dataset(config: PipelineConfig):
    """Finds, prepares and checks the dataset before any component runs.

    Returns:
      The TFDS builder, prepared.

    Raises:
      DatasetError: unknown dataset, not preparable offline,
        unknown split, or data that does not match the committed schema.
    """
    # TFDS and TensorFlow, only for this check.
    from components import features  # pylint: disable=import-outside-toplevel
    from components.tfds_example_gen import dataset as tfds_dataset  # pylint: disable=import-outside-toplevel
    builder = tfds_dataset.get_builder(config.dataset.tfds_name,
                                       config.dataset.data_dir)
    if os.path.isdir(config.schema_file):
        raise DatasetError(
            f"schema {config.schema_file!r} is a directory; pass the "
            "schema.pbtxt file in it with --schema.")
    if not os.path.isfile(config.schema_file):
        raise DatasetError(
            f"no schema for dataset {config.dataset.name!r} at "
            f"{config.schema_file!r}: write a first one with `python -m "
            f"pipeline infer-schema --dataset {config.dataset.name}`, review "
            "and commit it, or pass --schema.")
    try:
        contract = features.load_contract(config.schema_file)
    except features.SchemaError as error:
        raise DatasetError(str(error)) from None
    info_features = builder.info.features
    for key in (features.IMAGE_KEY, features.LABEL_KEY):
        if key not in info_features:
            raise DatasetError(
                f"dataset {builder.info.full_name!r} has no {key!r} feature "
                f"(it has {sorted(info_features.keys())}); the pipeline "
                "trains image classifiers on 'image' and 'label'.")
    shape = tuple(info_features[features.IMAGE_KEY].shape)
    if shape != contract.image_shape:
        raise DatasetError(
            f"dataset {builder.info.full_name!r} has images of shape {shape}"
            f" but the schema {config.schema_file!r} says "
            f"{contract.image_shape}; pass the dataset's own schema with "
            "--schema.")
    tfds_dataset.prepare(builder, config.dataset.manual_dir)
    tfds_dataset.check_splits(builder, config.dataset.splits)
    return builder
