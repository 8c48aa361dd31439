"""What an ExampleGen run read from the TFDS data dir, recorded on its
Examples artifact so that a scheduler can tell unchanged data without
loading TFDS or TensorFlow.

The check is rsync's quick check: the same files, with the same sizes and
modification times, and no other version of the dataset prepared beside
them (TFDS takes the newest prepared version of a dataset it knows only
from its files), read by the same TFDS release (whose code picks a
registered dataset's default version). Anything else is not judged here:
the caller then fingerprints the data's bytes with TFDS, as the pipeline's
driver does. So a "no change" from here is never wrong in practice, and a
"changed" only costs the full check.

It relies on TFDS's documented data dir layout,
`<data_dir>/<name>[/<config>]/<version>/`, and imports nothing heavy.
"""

import json
import os
from importlib import metadata
from typing import Callable, List, Mapping, Optional, Tuple

PROPERTY = "data_files"
_TFDS_DISTRIBUTION = "tensorflow-datasets"


def _stat(path: str) -> Optional[List[int]]:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


def _versions(versions_dir: str) -> List[str]:
    try:
        return sorted(n for n in os.listdir(versions_dir)
                      if n[:1].isdigit())
    except OSError:
        return []


def tfds_release() -> str:
    """The installed tensorflow-datasets release."""
    return metadata.version(_TFDS_DISTRIBUTION)


def record(version_dir: str, files: List[str],
           splits: Mapping[str, str]) -> str:
    """The manifest (JSON) of a prepared dataset's files that a run read.

    Args:
      version_dir: the builder's data dir, `<...>/<name>[/<config>]/<ver>`.
      files: the prepared files the splits read.
      splits: the pipeline's split mapping.
    """
    versions_dir = os.path.dirname(os.path.abspath(version_dir))
    return json.dumps({
        "versions_dir": versions_dir,
        "versions": _versions(versions_dir),
        "version": os.path.basename(os.path.abspath(version_dir)),
        "splits": dict(splits),
        "tfds": tfds_release(),
        "files": {path: _stat(path) for path in sorted(files)},
    }, sort_keys=True)


def split_name(tfds_name: str) -> Tuple[str, Optional[str], Optional[str]]:
    """(name, config, version) of TFDS's `name[/config][:version]`."""
    rest, _, version = tfds_name.partition(":")
    name, _, config = rest.partition("/")
    return name, config or None, version or None


def versions_dir(data_dir: Optional[str], name: str,
                 config: Optional[str]) -> str:
    """Where TFDS keeps the versions of a dataset (its documented layout)."""
    root = os.path.expanduser(data_dir or os.environ.get(
        "TFDS_DATA_DIR", "~/tensorflow_datasets"))
    return os.path.abspath(os.path.join(root, name, *(
        [config] if config else [])))


def unchanged(recorded: Optional[str], *, data_dir: Optional[str],
              name: str, config: Optional[str], version: Optional[str],
              splits: Mapping[str, str]) -> Optional[str]:
    """Why the data is certainly the same as when `recorded` was written,
    or None if that cannot be told this cheaply."""
    if not recorded:
        return None
    manifest = json.loads(recorded)
    here = versions_dir(data_dir, name, config)
    same = (manifest["versions_dir"] == here
            and manifest["splits"] == dict(splits)
            and (manifest["version"] == version if version
                 else manifest["versions"] == _versions(here))
            and manifest["tfds"] == tfds_release()
            and all(_stat(path) == stat and stat is not None
                    for path, stat in manifest["files"].items()))
    if not same:
        return None
    return (f"the {len(manifest['files'])} prepared files of version "
            f"{manifest['version']} are unchanged (size and modification "
            "time)")


def checker(**dataset) -> Callable[[Optional[str]], Optional[str]]:
    """`unchanged` for one dataset (keyword arguments as for it), as the
    schedulers' "no new data" checks take it."""
    return lambda recorded: unchanged(recorded, **dataset)
