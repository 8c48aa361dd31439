"""Opening an ML Metadata store: read-only where the caller only reads,
and one clear error (with the URL's password redacted) when it cannot be
opened."""

import os
from typing import Union

from ml_metadata import metadata_store

from pipeline.metadata import urls

MetadataStore = metadata_store.MetadataStore


class StoreError(RuntimeError):
    """The store cannot be opened; the message says which and why."""


def open_store(url: Union[str, urls.StoreUrl], *,
               read_only: bool) -> MetadataStore:
    """The store at `url`.

    Args:
      url: a store URL (see `urls`), parsed or not.
      read_only: the caller only reads. A sqlite file is then opened
        read-only and must exist: reading never creates an empty store.

    Raises:
      urls.MetadataUrlError: a malformed URL.
      StoreError: the store cannot be opened.
    """
    parsed = urls.parse(url) if isinstance(url, str) else url
    if parsed.scheme == "sqlite" and read_only and not os.path.isfile(
            parsed.path):
        raise StoreError(f"no ML Metadata store at {parsed.path}: nothing "
                         "has run there yet.")
    try:
        return MetadataStore(parsed.connection_config(read_only=read_only))
    except Exception as error:  # pylint: disable=broad-except
        # MLMD raises its own errors (from C++) for every connection failure.
        hint = {
            "sqlite": "Check that it is an ML Metadata sqlite file this "
                      "user can read.",
            "mysql": "Check the host, port, database and credentials (the "
                     "password comes from the URL or "
                     f"{urls.MYSQL_PASSWORD_ENV}).",
            "grpc": "Check the host and port of the metadata service.",
        }[parsed.scheme]
        # MLMD appends the SQL it ran ("... query:  CREATE TABLE ...").
        reason = urls.redact(str(error).strip()).split(" query:  ")[0]
        raise StoreError(
            f"cannot open ML Metadata at {parsed}: {reason}. {hint}"
        ) from None
