"""A local run with its artifacts, TFDS data and serving dir on S3: a real
MinIO server on loopback (tests/minio.py), endpoint and credentials from
the environment only."""

import json
import os
import pathlib
import sys
import uuid

import pytest

from components import storage
from pipeline import nodes
from tests.pipeline import helpers


def _upload(server, folder, bucket, prefix):
    """Every file under `folder` to s3://bucket/prefix/..."""
    import boto3  # pylint: disable=import-outside-toplevel
    client = boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key)
    for path in pathlib.Path(folder).rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket,
                               f"{prefix}/{path.relative_to(folder)}")
    return client


def _objects(client, bucket, prefix):
    """Key -> bytes of every object under the prefix."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(
                Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def _cli(env, *args):
    return helpers.run_cli([sys.executable, "-m", "pipeline", *args],
                           env=env)


@pytest.mark.slow
def test_a_run_on_minio_pushes_a_model_that_answers_from_minio(
        tmp_path, s3_env, tfds_data_dir):
    """This process and the runs it starts find MinIO by the environment
    alone; a second run is fully cached; models --verify and rollback
    work on the serving dir there; no credential is written anywhere."""
    minio_server = s3_env
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    client = _upload(minio_server, tfds_data_dir, "pipeline",
                     f"{prefix}/tfds")
    root = f"s3://pipeline/{prefix}/root"
    env = dict(os.environ)
    output = tmp_path / "out"
    args = helpers.cli_args(output, f"s3://pipeline/{prefix}/tfds",
                            "--pipeline-root", root)[3:]

    first = _cli(env, *args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    summary = helpers.read_summary(output / "last_run.json")
    assert set(helpers.statuses(summary).values()) == {"executed"}
    pushed = summary["pushed_model"]
    assert pushed.startswith(f"{root}/serving/"), pushed
    # Nothing of the artifacts or the served model is on this machine.
    assert not (output / "pipeline_root").exists()
    assert not (output / "serving").exists()
    storage.enable([pushed])
    helpers.check_signatures(pushed)

    second = _cli(env, *args)
    assert second.returncode == 0, second.stderr[-3000:]
    cached = helpers.read_summary(output / "last_run.json")
    assert helpers.statuses(cached) == {
        n: ("executed" if n == nodes.BASELINE_RESOLVER else "cached")
        for n in helpers.NODES}
    assert cached["pushed_model"] is None

    # A second model, then a rollback to the first: all on MinIO.
    retrained = _cli(env, *args[:-2], "--epochs", "3", *args[-2:])
    assert retrained.returncode == 0, retrained.stderr[-3000:]
    assert helpers.read_summary(output / "last_run.json")["pushed_model"]
    verify = _cli(env, "models", "--output-dir", str(output), "--verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "All 2 version(s) with a manifest match it." in verify.stdout
    rollback = _cli(env, "rollback", "--output-dir", str(output))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    served = json.loads(_cli(env, "models", "--output-dir", str(output),
                             "--json").stdout)[0]["destination"]
    assert served.startswith(f"{root}/serving/") and served != pushed
    assert _read(f"{served}/saved_model.pb") == _read(
        f"{pushed}/saved_model.pb")
    helpers.check_signatures(served)

    # No credential in any file written here or any object written there.
    secret = minio_server.secret_key.encode()
    local = [p for p in output.rglob("*")
             if p.is_file() and secret in p.read_bytes()]
    remote = [k for k, v in _objects(client, "pipeline", prefix).items()
              if secret in v]
    assert local == [] and remote == []


def _read(uri):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    with tf.io.gfile.GFile(uri, "rb") as f:
        return f.read()


@pytest.mark.parametrize("change,words", [
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
     "cannot reach the S3 endpoint http://127.0.0.1:9 for s3://pipeline/"),
    ({"AWS_SECRET_ACCESS_KEY": "wrong"}, "refused the credentials"),
    ({}, "bucket 'no-such-bucket' of s3://no-such-bucket/root does not "
         "exist"),
])
def test_a_bad_store_is_one_message_before_any_component(
        tmp_path, minio_server, tfds_data_dir, change, words):
    env = dict(os.environ, **dict(minio_server.env, **change))
    bucket = "pipeline" if change else "no-such-bucket"
    result = _cli(env, *helpers.cli_args(
        tmp_path / "out", tfds_data_dir, "--pipeline-root",
        f"s3://{bucket}/root")[3:])
    assert result.returncode == 1
    assert words in result.stderr, result.stderr[-2000:]
    assert "TfdsExampleGen" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert minio_server.secret_key not in result.stdout + result.stderr
