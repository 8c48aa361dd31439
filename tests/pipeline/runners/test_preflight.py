"""The dataset and the Beam runner are checked before any component
runs."""

import contextlib
import http.server
import json
import os
import socket
import threading
import zipfile

import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import downloader

import pipeline_config as pc
from components.tfds_example_gen import dataset
from pipeline.runners import local as local_runner
from pipeline.runners import preflight
from tests import ports
from tests.conftest import SCHEMA


class UnreachableImages(tfds.core.GeneratorBasedBuilder):
    """A dataset whose source can only be downloaded, from nowhere."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10)}))

    def _split_generators(self, dl_manager):
        # Port 9 on loopback: refused at once, no network needed.
        path = dl_manager.download("http://127.0.0.1:9/images.gz")
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        del path
        yield 0, {}


def _config(tmp_path, **dataset):
    return pc.PipelineConfig(
        output_dir=str(tmp_path / "out"), schema_path=SCHEMA,
        dataset=pc.DatasetConfig(**dataset))


def test_dataset_not_available_offline_says_how(tmp_path, monkeypatch):
    # TFDS retries a refused connection 10 times with backoff (minutes).
    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    config = _config(tmp_path, name="unreachable_images",
                     data_dir=str(tmp_path / "tfds"))
    with pytest.raises(dataset.DatasetError) as error:
        preflight.check_dataset(config)
    message = str(error.value)
    assert "could not prepare TFDS dataset 'unreachable_images/1.0.0'" in \
        message
    assert "--tfds-manual-dir" in message
    assert not os.path.exists(config.pipeline_root)


def test_schema_shape_must_match_the_dataset(tmp_path, tfds_data_dir):
    schema = tmp_path / "schema.pbtxt"
    with open(SCHEMA, encoding="utf-8") as f:
        schema.write_text(f.read().replace("28x28x1", "32x32x3"))
    config = pc.PipelineConfig(
        output_dir=str(tmp_path / "out"), schema_path=str(schema),
        dataset=pc.DatasetConfig(name="tiny_images", config="clean",
                                 data_dir=tfds_data_dir))
    with pytest.raises(dataset.DatasetError,
                       match=r"images of shape \(28, 28, 1\).*\(32, 32, 3\)"):
        preflight.check_dataset(config)


def test_missing_schema_says_how_to_make_one(tmp_path, tfds_data_dir):
    config = pc.PipelineConfig(
        output_dir=str(tmp_path / "out"),
        dataset=pc.DatasetConfig(name="tiny_images", config="clean",
                                 data_dir=tfds_data_dir))
    with pytest.raises(dataset.DatasetError, match="infer-schema"):
        preflight.check_dataset(config)


def test_unknown_runner(tmp_path):
    with pytest.raises(ValueError, match="unknown runner 'kubeflow'"):
        local_runner.run(_config(tmp_path), "kubeflow")


@contextlib.contextmanager
def _flink_rest(version):
    """A REST address answering /config as a JobManager of `version`
    does (the part the check reads; a real cluster: test_flink.py)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            body = json.dumps({"flink-version": version}).encode()
            self.send_response(200 if self.path == "/config" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _jar(path, manifest):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest)
    return str(path)


def _flink(master, jar, **settings):
    return pc.BeamConfig(runner="flink", flink_master=master,
                         flink_job_server_jar=jar, **settings)


def test_flink_checks_name_what_is_wrong(tmp_path):
    good = _jar(tmp_path / "js.jar", "Manifest-Version: 1.0\n"
                "Flink-Version: 1.19.0\n")
    with _flink_rest("1.19.1") as master:
        preflight.check_beam_runner(_flink(master, good))
        for jar, words in [
                (str(tmp_path / "none.jar"), "is not there: build it with "
                 "`make flink-job-server`"),
                (_jar(tmp_path / "old.jar", "Manifest-Version: 1.0\n"),
                 "does not say which Flink it was built for"),
                (str(tmp_path / "text.jar"), "is not a job server jar")]:
            if jar.endswith("text.jar"):
                (tmp_path / "text.jar").write_text("not a zip")
            with pytest.raises(preflight.BeamRunnerError, match=words):
                preflight.check_beam_runner(_flink(master, jar))
        with pytest.raises(preflight.BeamRunnerError,
                           match="no Beam worker pool answers at"):
            preflight.check_beam_runner(_flink(
                master, good, worker_image="img",
                flink_worker_pool=f"127.0.0.1:{ports.free_port()}"))
    with _flink_rest("1.18.1") as master:
        with pytest.raises(preflight.BeamRunnerError,
                           match=r"runs Flink 1\.18\.1, and the job server .* "
                                 r"was built for Flink 1\.19\.0"):
            preflight.check_beam_runner(_flink(master, good))


def test_flink_needs_java(tmp_path, monkeypatch):
    good = _jar(tmp_path / "js.jar", "Flink-Version: 1.19.0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(preflight.BeamRunnerError,
                       match="`java`, which is not on PATH"):
        preflight.check_beam_runner(_flink("127.0.0.1:1", good))


def test_flink_through_a_running_job_server_needs_no_jar_nor_java(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as job_server, \
            _flink_rest("1.19.1") as master:
        endpoint = f"127.0.0.1:{job_server.getsockname()[1]}"
        preflight.check_beam_runner(pc.BeamConfig(
            runner="flink", flink_master=master, flink_job_endpoint=endpoint))
        with pytest.raises(preflight.BeamRunnerError, match=(
                r"no Beam job server answers at --flink-job-endpoint "
                r"127\.0\.0\.1:\d+ \(.*\): start Beam's Flink job server for "
                r"Flink 1\.19\.1 there")):
            preflight.check_beam_runner(pc.BeamConfig(
                runner="flink", flink_master=master,
                flink_job_endpoint=f"127.0.0.1:{ports.free_port()}"))
    # The cluster is still checked first.
    with pytest.raises(preflight.BeamRunnerError,
                       match="the Flink master .* cannot be reached"):
        preflight.check_beam_runner(pc.BeamConfig(
            runner="flink", flink_master=f"127.0.0.1:{ports.free_port()}",
            flink_job_endpoint=endpoint))
