"""`s3://` locations checked up front, against a real MinIO on loopback."""

import os
import subprocess
import sys

import pytest

from components import storage
from tests import ports


@pytest.fixture
def env(monkeypatch, s3_env):  # pylint: disable=unused-argument
    # No profile of this machine's may stand in for missing credentials.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return monkeypatch


def test_a_bucket_that_answers_passes(env):
    storage.check(["s3://pipeline/root", "/local/path", None,
                   "s3://pipeline/tfds"])


@pytest.mark.parametrize("change,words", [
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:{port}"},
     "cannot reach the S3 endpoint http://127.0.0.1:{port} for "
     "s3://pipeline/root: check AWS_ENDPOINT_URL"),
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"},
     "refused the credentials for s3://pipeline/root"),
    ({"AWS_ACCESS_KEY_ID": None},
     "s3://pipeline/root is on S3 ({endpoint}) but no credentials were "
     "found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    ({"AWS_ENDPOINT_URL": "127.0.0.1:{port}"},
     "AWS_ENDPOINT_URL '127.0.0.1:{port}' is not an endpoint URL"),
])
def test_what_is_wrong_is_named(env, minio_server, change, words):
    port = ports.free_port()
    for name, value in change.items():
        if value is None:
            env.delenv(name)
        else:
            env.setenv(name, value.format(port=port))
    with pytest.raises(storage.StorageError) as error:
        storage.check(["s3://pipeline/root"])
    assert words.format(port=port, endpoint=os.environ["AWS_ENDPOINT_URL"]) \
        in str(error.value)
    assert minio_server.secret_key not in str(error.value)


def test_a_missing_bucket_is_named(env, minio_server):
    with pytest.raises(storage.StorageError,
                       match=f"bucket 'nowhere' of s3://nowhere/x does not "
                             f"exist at {minio_server.endpoint}: create it"):
        storage.check(["s3://pipeline/root", "s3://nowhere/x"])


def test_a_user_in_the_endpoint_is_never_shown(env, minio_server):
    host = minio_server.endpoint.split("//")[1]
    env.setenv("AWS_ENDPOINT_URL", f"http://someone:hunter2@{host}")
    with pytest.raises(storage.StorageError) as error:
        storage.check(["s3://nowhere/x"])
    assert "hunter2" not in str(error.value) and host in str(error.value)


def test_tensorflow_reads_and_writes_s3_once_enabled(env):
    """In a fresh process: tensorflow-io's filesystem, with the endpoint
    from AWS_ENDPOINT_URL."""
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
    result = _python(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "['a.txt'] hello"
    assert not storage.enable(["/local", "gs://b/x"])


def test_a_command_that_fails_after_using_s3_exits_1(env):
    """Not 134: tensorflow-io 0.37.1's teardown abort is avoided on the
    failure path too."""
    script = (
        "from components import storage\n"
        "from pipeline import exit as process_exit\n"
        "def main():\n"
        "    storage.enable(['s3://pipeline/x'])\n"
        "    import tensorflow as tf\n"
        "    tf.io.gfile.exists('s3://pipeline/x')\n"
        "    raise ValueError('a failing command')\n"
        "process_exit.run_then_exit(main)\n")
    result = _python(script)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "ValueError: a failing command" in result.stderr


def _python(script):
    """`script` in a fresh interpreter of this environment."""
    return subprocess.run([sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=300,
                          check=False)
