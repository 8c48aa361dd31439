"""The Kubeflow package's decide task: from ML Metadata and the data's
manifest, without TensorFlow."""

import json
import os
import re
import sys

import pytest

from components.tfds_example_gen import manifest
from pipeline.runners import decide_entrypoint
from pipeline.runners import node_entrypoint
from tests.pipeline import helpers
from tests.pipeline.metadata import fake_runs
from tests.pipeline.metadata.fake_runs import Outcome

VERSION = "3.0.1"


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    """A TFDS data dir (TFDS's default, by env) with fashion_mnist's files
    as the pipeline's default config reads them, and their manifest."""
    data_dir = tmp_path / "tfds"
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    version_dir = data_dir / "fashion_mnist" / VERSION
    version_dir.mkdir(parents=True)
    files = []
    for split in ("train", "test"):
        path = version_dir / f"fashion_mnist-{split}.tfrecord-00000-of-00001"
        path.write_bytes(split.encode() * 100)
        files.append(str(path))
    splits = json.loads(decide_entrypoint.example_gen_dataset(
        fake_runs.FakeStore(tmp_path / "probe").compiled())["splits"])
    return files, manifest.record(str(version_dir), files, splits)


def _store(tmp_path, **kwargs):
    return fake_runs.FakeStore(tmp_path, **kwargs)


def test_skips_the_same_pipeline_on_the_same_files(tmp_path, prepared):
    files, recorded = prepared
    fake = _store(tmp_path)
    fake.run("r1", Outcome(data_files=recorded))
    decision = decide_entrypoint.decide(fake.compiled(), fake.store)
    assert not decision.run
    assert "same compiled pipeline" in decision.reason
    assert "the 2 prepared files of version 3.0.1 are unchanged" in \
        decision.reason

    os.utime(files[0], ns=(1, 1))  # The data was prepared again.
    decision = decide_entrypoint.decide(fake.compiled(), fake.store)
    assert decision.run and "cannot be told unchanged" in decision.reason


def test_runs_with_a_new_run_time_parameter(tmp_path, prepared):
    _, recorded = prepared
    fake = _store(tmp_path)
    fake.run("r1", Outcome(data_files=recorded))
    ir = fake.compiled()
    node_entrypoint.set_run_parameters(ir, dataset_version="3.0.2")
    decision = decide_entrypoint.decide(ir, fake.store)
    assert decision.run and "compiled pipeline changed" in decision.reason


def test_example_gen_dataset_reads_the_compiled_parameters(tmp_path):
    ir = _store(tmp_path).compiled()
    node_entrypoint.set_run_parameters(ir, dataset_version="3.0.1")
    dataset = decide_entrypoint.example_gen_dataset(ir)
    assert dataset["dataset"] == "fashion_mnist:3.0.1"
    assert json.loads(dataset["splits"]) == {"train": "train",
                                             "eval": "test"}
    assert dataset["data_dir"] is None
    assert manifest.split_name("a/b:1.2.3") == ("a", "b", "1.2.3")
    assert manifest.split_name("a") == ("a", None, None)


def _main(tmp_path, ir, *args, env=None):
    decision, reason = tmp_path / "out" / "decision", tmp_path / "reason"
    # -X importtime lists every module the task imports.
    result = helpers.run_cli([
        sys.executable, "-X", "importtime", "-m",
        "pipeline.runners.decide_entrypoint", "--pipeline-ir",
        node_entrypoint.encode_ir(ir), "--decision-file", str(decision),
        "--reason-file", str(reason), *args], env=env)
    written = ((decision.read_text(), reason.read_text())
               if decision.exists() else None)
    return result, written


def test_the_task_decides_from_a_store_without_tensorflow(tmp_path,
                                                          prepared):
    _, recorded = prepared
    sqlite = str(tmp_path / "mlmd.sqlite")
    fake = _store(tmp_path, sqlite_path=sqlite)
    fake.run("r1", Outcome(data_files=recorded))
    env = dict(os.environ)
    result, written = _main(tmp_path, fake.compiled(), "--metadata",
                            f"sqlite://{sqlite}", "--only-if-changed",
                            "true", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert written[0] == "skip"
    assert "no new data" in written[1] and written[1] in result.stdout
    imported = re.findall(r"\|\s+(tensorflow\S*)", result.stderr)
    assert imported == [], imported[:5]
    assert re.search(r"\|\s+ml_metadata", result.stderr)  # It was listed.

    by_hand, written = _main(tmp_path, fake.compiled(), "--metadata",
                             f"sqlite://{sqlite}", "--only-if-changed",
                             "false", env=env)
    assert by_hand.returncode == 0, by_hand.stderr[-3000:]
    assert written == ("run", "started by hand (only_if_changed is false): "
                              "running.")


def test_a_bad_ir_is_one_usage_error(tmp_path):
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline.runners.decide_entrypoint",
        "--pipeline-ir", "not-an-ir", "--metadata", "sqlite:///x",
        "--decision-file", str(tmp_path / "d"), "--reason-file",
        str(tmp_path / "r")])
    assert result.returncode == 2
    assert "--pipeline-ir is not a compiled pipeline" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_a_store_it_cannot_reach_fails_the_task_instead_of_deciding(
        tmp_path):
    ir = fake_runs.FakeStore(tmp_path).compiled()
    result, written = _main(tmp_path, ir, "--metadata",
                            "mysql://mlmd@127.0.0.1:1/mlmd",
                            "--only-if-changed", "true")
    assert result.returncode == 1
    assert "cannot open ML Metadata at mysql://mlmd@127.0.0.1:1/mlmd" in \
        result.stderr
    assert written is None


def test_an_object_store_it_cannot_use_fails_before_any_tfx_task(
        tmp_path, minio_server):
    """The package's first task checks its s3:// locations (MinIO on
    loopback), still without TensorFlow."""
    import pipeline_config as pc  # pylint: disable=import-outside-toplevel
    from pipeline import factory  # pylint: disable=import-outside-toplevel
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "s3://pipeline/tfds"),
        remote_root="s3://no-such-bucket/root")
    ir = factory.compile_ir(factory.create_pipeline(config))
    result, written = _main(tmp_path, ir, "--metadata",
                            f"sqlite://{tmp_path / 'mlmd.sqlite'}",
                            env=dict(os.environ, **minio_server.env))
    assert result.returncode == 1
    assert ("Error: bucket 'no-such-bucket' of s3://no-such-bucket/root "
            f"does not exist at {minio_server.endpoint}") in result.stderr
    assert written is None
    assert re.findall(r"\|\s+(tensorflow\S*)", result.stderr) == []
