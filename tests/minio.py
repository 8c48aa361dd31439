"""A private MinIO server on loopback: the S3-compatible store Kubeflow
Pipelines ships, for the tests of `s3://` locations.

The test that needs it starts its own server in a temporary data dir (its
own port, root credentials made up for the test, listening on 127.0.0.1
only) and stops it afterwards. No Debian or PyPI package carries the
server: it is built from source with `go install` (Go's module cache and
build cache keep it for the next time on the same machine), into GOBIN or
Go's own bin folder, unless `minio` is already on PATH or PIPELINE_TEST_MINIO
names the binary.
"""

import contextlib
import dataclasses
import os
import shutil
import subprocess
import urllib.request

from tests import ports
from tests import servers

MODULE = "github.com/minio/minio"
# MinIO's release tags are not semantic versions, so the Go module proxy
# knows its commits by pseudo-version; this one built with Go 1.26 here.
VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
BINARY_ENV = "PIPELINE_TEST_MINIO"


def _go_bin_dir() -> str:
    found = subprocess.run(["go", "env", "GOBIN", "GOPATH"], check=True,
                           capture_output=True, text=True).stdout.split("\n")
    return found[0] or os.path.join(found[1], "bin")


def binary() -> str:
    """The minio server binary, built with `go install` if missing."""
    if os.environ.get(BINARY_ENV):
        return os.environ[BINARY_ENV]
    on_path = shutil.which("minio")
    if on_path:
        return on_path
    if not shutil.which("go"):
        raise RuntimeError(
            "the minio server is not installed and Go is not there to build "
            f"it: install Go, or run `go install {MODULE}@{VERSION}`, or set "
            f"{BINARY_ENV}.")
    path = os.path.join(_go_bin_dir(), "minio")
    if not os.path.isfile(path):
        subprocess.run(["go", "install", f"{MODULE}@{VERSION}"], check=True,
                       capture_output=True)
    return path


@dataclasses.dataclass(frozen=True)
class Server:
    """How to reach the running server."""
    endpoint: str
    access_key: str
    secret_key: str

    @property
    def env(self) -> dict:
        """The environment a client of this server runs with."""
        return {"AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def make_bucket(self, name: str) -> None:
        """Creates a bucket."""
        import boto3  # pylint: disable=import-outside-toplevel
        boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key).create_bucket(Bucket=name)


@contextlib.contextmanager
def running(data_dir: str):
    """Starts a server storing its data in `data_dir`; yields a Server."""
    port, console = ports.free_port(), ports.free_port()
    server = Server(f"http://127.0.0.1:{port}", "pipeline-test",
                    "pipeline-test-secret-1")
    env = dict(os.environ, MINIO_ROOT_USER=server.access_key,
               MINIO_ROOT_PASSWORD=server.secret_key,
               MINIO_BROWSER="off", MINIO_UPDATE="off")
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "minio.log"), "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [binary(), "server", "--quiet", "--address", f"127.0.0.1:{port}",
             "--console-address", f"127.0.0.1:{console}",
             os.path.join(data_dir, "data")],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        servers.wait_until_up(
            lambda: urllib.request.urlopen(  # pylint: disable=consider-using-with
                f"{server.endpoint}/minio/health/live", timeout=2).close(),
            [process], 60,
            f"MinIO did not start; see {data_dir}/minio.log",
            poll_seconds=0.3)
        yield server
    finally:
        servers.stop(process)
