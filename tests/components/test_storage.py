"""`s3://` locations checked up front, against a real MinIO on loopback."""

import os
import socket

import pytest

from components import storage


@pytest.fixture
def server(minio_server):
    return minio_server


@pytest.fixture
def env(monkeypatch, s3_env):  # pylint: disable=unused-argument
    return monkeypatch


def test_a_bucket_that_answers_passes(env):
    storage.check(["s3://pipeline/root", "/local/path", None,
                   "s3://pipeline/tfds"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("change,words", [
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:{port}"},
     "cannot reach the S3 endpoint http://127.0.0.1:{port} for "
     "s3://pipeline/root: check AWS_ENDPOINT_URL"),
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"},
     "refused the credentials for s3://pipeline/root"),
    ({"AWS_ACCESS_KEY_ID": None},
     "s3://pipeline/root is on S3 ({endpoint}) but AWS_ACCESS_KEY_ID is not "
     "set"),
])
def test_what_is_wrong_is_named(env, server, change, words):
    port = _free_port()
    for name, value in change.items():
        if value is None:
            env.delenv(name)
        else:
            env.setenv(name, value.format(port=port))
    with pytest.raises(storage.StorageError) as error:
        storage.check(["s3://pipeline/root"])
    assert words.format(port=port, endpoint=os.environ["AWS_ENDPOINT_URL"]) \
        in str(error.value)
    assert server.secret_key not in str(error.value)


def test_a_missing_bucket_is_named(env, server):
    with pytest.raises(storage.StorageError,
                       match=f"bucket 'nowhere' of s3://nowhere/x does not "
                             f"exist at {server.endpoint}: create it"):
        storage.check(["s3://pipeline/root", "s3://nowhere/x"])


def test_tensorflow_reads_and_writes_s3_once_enabled(env, server):
    """In a fresh process: tensorflow-io's filesystem, with the endpoint
    from AWS_ENDPOINT_URL."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    script = (
        "import os\n"
        "from components import storage\n"
        "assert storage.enable(['s3://pipeline/x'])\n"
        "import tensorflow as tf\n"
        "with tf.io.gfile.GFile('s3://pipeline/t/a.txt', 'w') as f:\n"
        "    f.write('hello')\n"
        "print(tf.io.gfile.listdir('s3://pipeline/t'),"
        " tf.io.gfile.GFile('s3://pipeline/t/a.txt').read())\n"
        "storage.end_process(0)\n")
    result = subprocess.run([sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "['a.txt'] hello"
    assert not storage.enable(["/local", "gs://b/x"])
