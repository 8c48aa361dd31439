"""`s3://` object storage (MinIO, which Kubeflow Pipelines ships, or any
S3-compatible store) for the steps, beside local paths and `gs://`.

TensorFlow 2.16 has no `s3://` filesystem of its own: tensorflow-io's plugin
registers one when `tensorflow_io` is imported (tensorflow_transform imports
it for the same reason). Beam reads and writes `s3://` through its own S3
filesystem (boto3, `apache-beam[aws]`). Both take their settings from the
environment, and so does this project, so that no credential is ever
written into a package, a command line, a log or an artifact:

  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the credentials
  AWS_ENDPOINT_URL   an S3-compatible endpoint, e.g. http://127.0.0.1:9000
                     (boto3 reads it; tensorflow-io reads S3_ENDPOINT,
                     which `enable` sets from it when unset)

Locally they come from the shell; on Kubeflow from a Kubernetes secret
(credentials) and the package (the endpoint, which is no secret).
"""

import atexit
import gc
import logging
import os
import sys
import urllib.parse
from typing import Iterable, Optional, Tuple

SCHEME = "s3://"
ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
# What tensorflow-io 0.37's S3 plugin reads for a custom endpoint; the
# scheme in it (http:// or https://) is what selects plain HTTP.
TFIO_ENDPOINT_ENV = "S3_ENDPOINT"
# tensorflow-io releases whose S3 filesystem aborts the interpreter's
# teardown ("pure virtual method called", exit status 134) in any process
# that used it, after all its work succeeded (tensorflow/io#2039, fixed
# upstream after 0.37.1, unreleased as of 2026-12).
ABORTS_AT_EXIT = ("0.37.1",)
# Whether `enable` ran, and the TFX filesystem plugin it registered, in
# this process.
_ENABLED = []
_TFX_REGISTERED = []
# See _configure_environment.
_NO_INSTANCE_METADATA = {"AWS_EC2_METADATA_DISABLED": "true"}


class StorageError(ValueError):
    """An `s3://` location that cannot be used; the message says why."""


def is_remote(uri: Optional[str]) -> bool:
    """Whether `uri` names an object store or another remote filesystem
    (`scheme://...`) rather than a local path."""
    return "://" in (uri or "")


def is_s3(uri: Optional[str]) -> bool:
    """Whether `uri` is an `s3://` location."""
    return bool(uri) and uri.startswith(SCHEME)


def bucket_of(uri: str) -> Tuple[str, str]:
    """(bucket, key prefix) of an `s3://bucket/prefix` URI."""
    parsed = urllib.parse.urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def enable(uris: Iterable[Optional[str]] = ()) -> bool:
    """Makes `s3://` readable and writable by TensorFlow in this process if
    any of `uris` is on S3 (or, with no `uris`, unconditionally); True if
    it did. Call it at a process's edge, before the work starts."""
    uris = list(uris)
    if uris and not any(is_s3(u) for u in uris):
        return False
    if not _ENABLED:
        # tensorflow-io reads these when it first opens an s3:// path.
        _configure_environment()
        import tensorflow_io  # pylint: disable=import-outside-toplevel,unused-import
        _ENABLED.append(True)
    if "tfx" in sys.modules and not _TFX_REGISTERED:
        _register_tfx_filesystem()
    return True


def _register_tfx_filesystem() -> None:
    """TFX's own file access (`tfx.dsl.io.fileio`) for `s3://` through a
    plugin whose `makedirs` leaves a folder marker (an empty object named
    `folder/`, as S3's own console makes them).

    TFX makes every output artifact's folder before the executor runs and,
    before reusing a cached execution, checks that each output still
    exists. An S3 "folder" exists only while an object lies under it, and
    tensorflow-io's `makedirs` writes none, so an output left empty
    (Transform's analyzer cache, for one) would make every re-run miss the
    cache. tensorflow-io lists a marked folder as an empty folder.
    Registered through TFX's filesystem registry, ahead of its TensorFlow
    plugin for this one scheme.
    """
    from tfx.dsl.io import filesystem_registry  # pylint: disable=import-outside-toplevel
    from tfx.dsl.io.plugins import tensorflow_gfile  # pylint: disable=import-outside-toplevel

    class S3Filesystem(tensorflow_gfile.TensorflowFilesystem):
        """TensorFlow's filesystem (tensorflow-io's S3) with folder
        markers."""
        SUPPORTED_SCHEMES = [SCHEME]

        @staticmethod
        def makedirs(path) -> None:
            path = path.decode() if isinstance(path, bytes) else path
            tensorflow_gfile.TensorflowFilesystem.makedirs(path)
            bucket, key = bucket_of(path)
            if key.strip("/"):
                client().put_object(Bucket=bucket, Key=key.rstrip("/") + "/",
                                    Body=b"")

        mkdir = makedirs

    filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY.register(
        S3Filesystem, priority=5)
    _TFX_REGISTERED.append(S3Filesystem)


def in_use() -> bool:
    """Whether this process enabled `s3://` (see `enable`)."""
    return bool(_ENABLED)


def end_process(code: int) -> None:
    """Ends this process with `code`, its work written.

    Every object is first moved to the garbage collector's permanent
    generation (`gc.freeze`): the collections at exit then skip what
    TensorFlow and Beam made, the slow part of the teardown (0.7 s of the
    serving probe's 1.2 s, a second and more of a command's;
    docs/performance.md). `atexit` handlers run, and objects freed by
    reference counting are finalized as usual; objects kept only by
    reference cycles are left to the operating system, as at any exit
    whose last collection does not reach them. Nothing of this project's
    relies on those.

    Where a tensorflow-io release that aborts at teardown (see
    ABORTS_AT_EXIT) was loaded, the exit handlers run, logs and streams
    are flushed, and the process ends without the teardown that would
    abort; otherwise it exits as usual."""
    gc.freeze()
    if not in_use() or sys.modules["tensorflow_io"].__version__ not in (
            ABORTS_AT_EXIT):
        sys.exit(code)
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)  # pylint: disable=protected-access


def check(uris: Iterable[Optional[str]]) -> None:
    """Checks every `s3://` location among `uris` before any work: the
    endpoint answers, takes the credentials, and has the bucket.

    Raises:
      StorageError: one sentence naming the location, what is wrong and
        what to set.
    """
    first_uri = {}
    for uri in uris:
        if is_s3(uri):
            first_uri.setdefault(bucket_of(uri)[0], uri)
    buckets = sorted(first_uri.items())
    if not buckets:
        return
    _configure_environment()
    endpoint = _shown_endpoint()
    import boto3  # pylint: disable=import-outside-toplevel
    import botocore.exceptions  # pylint: disable=import-outside-toplevel
    # The SDK's own chain: the environment, a profile, an instance role.
    if boto3.session.Session().get_credentials() is None:
        raise StorageError(
            f"{buckets[0][1]} is on S3 ({endpoint}) but no credentials were "
            f"found: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} (on "
            "Kubeflow, compile --s3-secret), or give this machine an AWS "
            "profile or role.")
    try:
        s3 = client(preflight=True)
    except ValueError as error:  # e.g. an endpoint without http(s)://
        raise StorageError(f"{ENDPOINT_ENV} {endpoint!r} is not an endpoint "
                           f"URL ({error}): give http(s)://host:port."
                           ) from None
    for bucket, uri in buckets:
        try:
            s3.head_bucket(Bucket=bucket)
        except (botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError):
            raise StorageError(
                f"cannot reach the S3 endpoint {endpoint} for {uri}: check "
                f"{ENDPOINT_ENV} (e.g. http://minio-service.kubeflow:9000) "
                "and that the store is running.") from None
        except botocore.exceptions.ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode")
            if status == 404:
                raise StorageError(
                    f"bucket {bucket!r} of {uri} does not exist at "
                    f"{endpoint}: create it first.") from None
            if status in (401, 403):
                raise StorageError(
                    f"the S3 endpoint {endpoint} refused the credentials "
                    f"for {uri} ({ACCESS_KEY_ENV} / {SECRET_KEY_ENV}): "
                    "check them and the bucket's policy.") from None
            raise StorageError(f"{uri}: the S3 endpoint {endpoint} "
                               f"answered {error}.") from None
        except (botocore.exceptions.BotoCoreError, ValueError) as error:
            # A malformed location (s3:///x) or another client-side error.
            raise StorageError(f"{uri} cannot be used on S3 ({endpoint}): "
                               f"{error}") from None


def _configure_environment() -> None:
    """With an endpoint of one's own: tensorflow-io's name for it, and no
    lookups of EC2 instance metadata (pointless there; on AWS they are
    not, so nothing changes without an endpoint)."""
    if os.environ.get(ENDPOINT_ENV):
        os.environ.setdefault(TFIO_ENDPOINT_ENV, os.environ[ENDPOINT_ENV])
        for name, value in _NO_INSTANCE_METADATA.items():
            os.environ.setdefault(name, value)


def _shown_endpoint() -> str:
    """The endpoint for a message: without any user or password in it."""
    endpoint = os.environ.get(ENDPOINT_ENV)
    if not endpoint:
        return "AWS's S3"
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.username or parsed.password:
        parsed = parsed._replace(netloc=parsed.netloc.rsplit("@", 1)[1])
    return parsed.geturl()


def client(preflight: bool = False):
    """A boto3 S3 client for the environment's endpoint and credentials;
    for a preflight check, one fast attempt (short timeouts, no retries)."""
    import boto3  # pylint: disable=import-outside-toplevel
    from botocore import config  # pylint: disable=import-outside-toplevel
    settings = (config.Config(connect_timeout=5, read_timeout=15,
                              retries={"max_attempts": 1})
                if preflight else None)
    return boto3.session.Session().client(
        "s3", endpoint_url=os.environ.get(ENDPOINT_ENV) or None,
        config=settings)
