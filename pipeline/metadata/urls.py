"""ML Metadata store URLs: parsed, checked and redacted in one place.

  grpc://host:port                           a metadata gRPC service
  mysql://user[:password]@host[:port]/db     MySQL or MariaDB
  sqlite:///path/to/metadata.sqlite          a local file

A MySQL password may instead come from the MLMD_MYSQL_PASSWORD environment
variable (on Kubeflow, from a Kubernetes secret), and must come from there
in a compiled package: a password in a URL would be written into every
task's arguments, which the KFP UI and the pods' specs show.

The connection configs are built here rather than with
`tfx.orchestration.metadata.{sqlite,mysql}_metadata_connection_config`:
that module imports TensorFlow (seconds, and CUDA noise on the console), which
the history commands must not, and its sqlite config always opens
read-write-create, which a command that only reads must not.
"""

import dataclasses
import logging
import os
import re
import urllib.parse
from typing import Optional, Union

from ml_metadata.proto import metadata_store_pb2

MYSQL_PASSWORD_ENV = "MLMD_MYSQL_PASSWORD"
MYSQL_DEFAULT_PORT = 3306
FORMS = ("grpc://host:port, mysql://user@host:port/database or "
         "sqlite:///path/to/metadata.sqlite")
_SQLITE = metadata_store_pb2.SqliteMetadataSourceConfig

ConnectionConfig = Union[metadata_store_pb2.ConnectionConfig,
                         metadata_store_pb2.MetadataStoreClientConfig]


class MetadataUrlError(ValueError):
    """A store URL that cannot be used; the message says why and what to
    write instead."""


@dataclasses.dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL. `str()` and `repr()` never show the password."""

    scheme: str
    host: Optional[str] = None
    port: Optional[int] = None
    database: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    path: Optional[str] = None

    def __str__(self) -> str:
        if self.scheme == "sqlite":
            return f"sqlite://{self.path}"
        if self.scheme == "grpc":
            return f"grpc://{self.host}:{self.port}"
        secret = ":***" if self.password is not None else ""
        return (f"mysql://{urllib.parse.quote(self.user or '')}{secret}@"
                f"{self.host}:{self.port}/{self.database}")

    def connection_config(self, read_only: bool = False) -> ConnectionConfig:
        """The ML Metadata connection config (a client config for gRPC).

        Args:
          read_only: open a sqlite file read-only (MySQL and gRPC users'
            rights are the server's business).
        """
        if self.scheme == "grpc":
            return metadata_store_pb2.MetadataStoreClientConfig(
                host=self.host, port=self.port)
        config = metadata_store_pb2.ConnectionConfig()
        if self.scheme == "sqlite":
            config.sqlite.filename_uri = self.path
            config.sqlite.connection_mode = (
                _SQLITE.READONLY if read_only
                else _SQLITE.READWRITE_OPENCREATE)
            return config
        config.mysql.host = self.host
        config.mysql.port = self.port
        config.mysql.database = self.database
        config.mysql.user = self.user
        config.mysql.password = (self.password if self.password is not None
                                 else os.environ.get(MYSQL_PASSWORD_ENV, ""))
        return config


def parse(url: str) -> StoreUrl:
    """Parses and checks a store URL.

    Raises:
      MetadataUrlError: naming the URL (redacted) and the accepted forms.
    """
    if not isinstance(url, str) or "://" not in url:
        raise MetadataUrlError(
            f"metadata URL {redact(str(url))!r} is not a URL; use {FORMS}.")
    parsed = urllib.parse.urlsplit(url)
    shown = redact(url)
    if parsed.query or parsed.fragment:
        raise MetadataUrlError(
            f"metadata URL {shown!r} has a query or fragment ('?' or '#'), "
            f"which is not read; use {FORMS} (a MySQL password goes in "
            f"{MYSQL_PASSWORD_ENV}).")
    try:
        port = parsed.port
    except ValueError:
        raise MetadataUrlError(
            f"metadata URL {shown!r} has a port that is not a number from "
            "1 to 65535.") from None
    if parsed.scheme == "sqlite":
        path = urllib.parse.unquote(parsed.path)
        if parsed.netloc or not path.startswith("/"):
            raise MetadataUrlError(
                f"metadata URL {shown!r} must name an absolute path, with "
                "three slashes: sqlite:///path/to/metadata.sqlite.")
        return StoreUrl("sqlite", path=path)
    if parsed.scheme == "grpc":
        if not parsed.hostname or not port or parsed.path.strip("/"):
            raise MetadataUrlError(
                f"metadata URL {shown!r} needs a host and a port and nothing "
                "else, e.g. grpc://metadata-grpc-service.kubeflow:8080.")
        return StoreUrl("grpc", host=parsed.hostname, port=port)
    if parsed.scheme == "mysql":
        database = parsed.path.strip("/")
        if not parsed.hostname or not database or "/" in database:
            raise MetadataUrlError(
                f"metadata URL {shown!r} needs a host and a database, e.g. "
                "mysql://mlmd@mysql.kubeflow:3306/metadb.")
        return StoreUrl(
            "mysql", host=parsed.hostname, port=port or MYSQL_DEFAULT_PORT,
            database=database,
            user=urllib.parse.unquote(parsed.username or "root"),
            password=(urllib.parse.unquote(parsed.password)
                      if parsed.password is not None else None))
    raise MetadataUrlError(
        f"metadata URL {shown!r} has scheme {parsed.scheme!r}; use {FORMS}.")


def parse_for_package(url: str) -> StoreUrl:
    """Parses a URL that a compiled package will carry to every task: one
    without a password.

    Raises:
      MetadataUrlError: a bad URL, or one with a password.
    """
    parsed = parse(url)
    if parsed.password is not None:
        raise MetadataUrlError(
            f"metadata URL {str(parsed)!r} holds a password, which would be "
            "written into every task of the package (visible in the KFP UI "
            "and the pods' specs). Leave it out and pass --metadata-secret "
            "SECRET:KEY, a Kubernetes secret every task reads it from (as "
            f"{MYSQL_PASSWORD_ENV}).")
    return parsed


def local_sqlite(path: str) -> StoreUrl:
    """The URL of a local sqlite store."""
    return StoreUrl("sqlite", path=os.path.abspath(path))


# `scheme://user:password@`: the password is whatever lies between the
# user's colon and the last '@' before the host.
_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*):"
                          r"[^\s'\"/]*@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***: for
    messages and log lines."""
    return _CREDENTIALS.sub(r"\1:***@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts store passwords from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
