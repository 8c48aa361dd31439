"""The serving directory: its one home. What TensorFlow Serving loads, and
what the Pusher keeps beside each version so that a reader can trust it.

  <base>/<version>/                 a SavedModel; TF Serving serves the
                                    highest all-digit name
  <base>/.incomplete-<id>/          a push in progress (not all digits, so
                                    never loaded; removed by a later push
                                    once an hour old)
  <base>/.source-<version>          the trained model it was pushed from
  <base>/.manifest-<version>.json   sha256 of every file of the version

A version is published by copying the model into a staging directory,
checking the copy against the model's checksums and moving it into place:
one atomic rename on a local or POSIX file system. An object store (s3://,
gs://) has no rename: there every object is moved on its own and
`saved_model.pb` last, so that a model server finds no loadable SavedModel
in the version until all of it is there (S3 and GCS write an object whole
or not at all). The version's source and manifest are written just after
the move; a version without a manifest is reported as unverified, not as
damaged.

Local paths go through `os`; URIs (`gs://...`, `s3://...`) through
`tf.io.gfile` (with tensorflow-io's filesystem for s3, see
components/storage.py), imported only then, so that `models --verify` and
`rollback` on a local directory do not pay TensorFlow's start-up.
"""

import hashlib
import json
import os
import shutil
import time
import uuid
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

from components import storage

STAGING_PREFIX = ".incomplete-"
SOURCE_PREFIX = ".source-"
MANIFEST_PREFIX = ".manifest-"
MANIFEST_SUFFIX = ".json"
# A staging folder untouched this long belongs to a push that crashed.
STALE_STAGING_SECONDS = 3600
_CLAIM_ATTEMPTS = 10
# What makes a folder a loadable SavedModel: written last on object stores.
LAST_FILE = "saved_model.pb"
_CHUNK = 1 << 20


class PublishError(RuntimeError):
    """A copy did not match its source; nothing was published."""


class _Files:
    """The few file operations the layout needs, local or on a URI."""

    @staticmethod
    def gfile(path: str):
        if "://" not in path:
            return None
        storage.enable([path])
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        return tf.io.gfile

    def exists(self, path: str) -> bool:
        gfile = self.gfile(path)
        return gfile.exists(path) if gfile else os.path.exists(path)

    def listdir(self, path: str) -> List[str]:
        gfile = self.gfile(path)
        if gfile and not gfile.exists(path):
            return []  # An object store has no empty folders.
        names = gfile.listdir(path) if gfile else os.listdir(path)
        return [n.rstrip("/") for n in names]

    def makedirs(self, path: str) -> None:
        gfile = self.gfile(path)
        if gfile:
            gfile.makedirs(path)
        else:
            os.makedirs(path, exist_ok=True)

    def open(self, path: str, mode: str):
        gfile = self.gfile(path)
        return gfile.GFile(path, mode) if gfile else open(  # pylint: disable=consider-using-with
            path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))

    def files(self, directory: str) -> Iterator[str]:
        """Every file under `directory`, as a '/'-separated relative path."""
        gfile = self.gfile(directory)
        walk = gfile.walk(directory) if gfile else os.walk(directory)
        for folder, _, names in walk:
            relative = os.path.relpath(folder, directory)
            for name in names:
                yield (name if relative == "." else
                       f"{relative.replace(os.sep, '/')}/{name}")

    def copytree(self, source: str, destination: str) -> None:
        if not (self.gfile(source) or self.gfile(destination)):
            shutil.copytree(source, destination)
            return
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        for relative in self.files(source):
            target = f"{destination}/{relative}"
            tf.io.gfile.makedirs(os.path.dirname(target))
            tf.io.gfile.copy(f"{source}/{relative}", target, overwrite=True)

    def move(self, source: str, destination: str) -> None:
        """Moves the folder `source` to `destination`, which must not
        exist. Locally one rename: atomic, and it fails if another push
        took `destination` meanwhile. An object store (s3://, gs://) has
        no rename: there each object is moved (copied, then deleted) on
        its own, `saved_model.pb` last, so that `destination` holds no
        loadable SavedModel until every other file is in place (an object
        is written whole or not at all); moving onto an object that
        exists fails."""
        gfile = self.gfile(source)
        if not gfile:
            os.rename(source, destination)
            return
        for relative in sorted(self.files(source),
                               key=lambda name: name == LAST_FILE):
            gfile.rename(f"{source}/{relative}",
                         f"{destination}/{relative}", overwrite=False)
        if gfile.exists(source):
            gfile.rmtree(source)

    def age_seconds(self, path: str) -> Optional[float]:
        """Seconds since `path` was last modified; None if unknown."""
        gfile = self.gfile(path)
        try:
            modified = (gfile.stat(path).mtime_nsec / 1e9 if gfile
                        else os.path.getmtime(path))
        except Exception:  # pylint: disable=broad-except
            return None  # e.g. a GCS "folder", which has no time of its own
        return time.time() - modified

    def rmtree(self, path: str) -> None:
        gfile = self.gfile(path)
        if gfile:
            gfile.rmtree(path)
        else:
            shutil.rmtree(path)


FILES = _Files()


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def version_dir(base: str, version: str) -> str:
    """Where a version lives."""
    return _join(base, version)


def manifest_path(base: str, version: str) -> str:
    """The version's manifest, beside it."""
    return _join(base, f"{MANIFEST_PREFIX}{version}{MANIFEST_SUFFIX}")


def versions(base: str) -> List[str]:
    """The versions a model server would consider, oldest first."""
    if not FILES.exists(base):
        return []
    return sorted((n for n in FILES.listdir(base) if n.isdigit()), key=int)


def source(base: str, version: str) -> Optional[str]:
    """The trained model a version was pushed from, if recorded."""
    path = _join(base, SOURCE_PREFIX + version)
    if not FILES.exists(path):
        return None
    with FILES.open(path, "r") as f:
        return f.read().strip()


def newest(base: str) -> Tuple[Optional[str], Optional[str]]:
    """(the version a server serves, the model it was pushed from)."""
    served = versions(base)
    if not served:
        return None, None
    return served[-1], source(base, served[-1])


def checksums(directory: str) -> Dict[str, str]:
    """Relative path -> sha256 of every file under `directory`."""
    result = {}
    for relative in sorted(FILES.files(directory)):
        digest = hashlib.sha256()
        with FILES.open(_join(directory, relative), "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        result[relative] = digest.hexdigest()
    return result


def read_manifest(base: str, version: str) -> Optional[dict]:
    """The version's manifest; None if it has none (pushed before
    manifests existed, or a push that stopped right after its rename).

    Raises:
      ValueError: the manifest exists but is not one.
    """
    path = manifest_path(base, version)
    if not FILES.exists(path):
        return None
    with FILES.open(path, "r") as f:
        manifest = json.loads(f.read())
    if not isinstance(manifest, dict) or not isinstance(
            manifest.get("files"), dict):
        raise ValueError(f"{path} is not a manifest")
    return manifest


def problems(base: str, version: str) -> Optional[List[str]]:
    """What is wrong with a served version against its manifest: [] if it
    is intact; files missing, changed or not in the manifest, or an
    unreadable manifest; None if it has no manifest to check against."""
    try:
        manifest = read_manifest(base, version)
    except ValueError:
        return [f"unreadable manifest {manifest_path(base, version)}"]
    if manifest is None:
        return None
    expected = manifest["files"]
    found = checksums(version_dir(base, version))
    found_problems = [f"missing {p}" for p in sorted(set(expected) -
                                                     set(found))]
    found_problems += [f"changed {p}" for p in sorted(set(expected) &
                                                      set(found))
                       if expected[p] != found[p]]
    found_problems += [f"not in the manifest {p}"
                       for p in sorted(set(found) - set(expected))]
    return found_problems


def replaced_sources(base: str) -> Set[str]:
    """The trained models that a rollback took out of service: the Pusher
    does not serve them again by itself (`rollback --to` can)."""
    replaced = set()
    for version in versions(base):
        try:
            manifest = read_manifest(base, version)
        except ValueError:
            continue
        if manifest and manifest.get("replaces"):
            source_of = source(base, manifest["replaces"])
            if source_of:
                replaced.add(source_of)
    return replaced


def _clear_stale_staging(base: str) -> None:
    """Removes staging folders a crashed push left (never loaded by a model
    server); a push still copying into its own is left alone."""
    for name in FILES.listdir(base):
        if name.startswith(STAGING_PREFIX):
            age = FILES.age_seconds(_join(base, name))
            if age is not None and age > STALE_STAGING_SECONDS:
                FILES.rmtree(_join(base, name))


def publish(model_dir: str, base: str,
            clock: Callable[[], float] = time.time,
            model_source: Optional[str] = None,
            extra: Optional[dict] = None) -> Tuple[str, str]:
    """Copies `model_dir` to a new version under `base`, atomically, with
    its manifest.

    The copy goes to a staging folder of its own and is checked against
    `model_dir`'s checksums; then it is moved to the next version: the
    current Unix time, or one more than the newest existing version if that
    is later, so versions only grow. Locally, a move that loses a race for
    that version (another push or rollback took it) tries the next one; on
    an object store, whose move is not one step, it fails instead. The
    version's source and manifest are written once the version is claimed.

    Args:
      model_dir: the SavedModel to publish.
      base: the serving directory.
      clock: the time, for the version number.
      model_source: the trained model to record as the version's source
        [default: `model_dir`].
      extra: more facts for the manifest (e.g. what a rollback restored).

    Returns:
      (version, path of the new version directory).

    Raises:
      PublishError: the copy differs from `model_dir`, or no version could
        be claimed (nothing published).
    """
    FILES.makedirs(base)
    _clear_stale_staging(base)
    expected = checksums(model_dir)
    staging = _join(base, STAGING_PREFIX + uuid.uuid4().hex)
    FILES.copytree(model_dir, staging)
    copied = checksums(staging)
    if copied != expected:
        FILES.rmtree(staging)
        differ = sorted(set(expected) ^ set(copied) | {
            p for p in set(expected) & set(copied)
            if expected[p] != copied[p]})
        raise PublishError(f"the copy of {model_dir} in {staging} differs "
                           f"from it ({', '.join(differ[:5])}); nothing was "
                           "published.")
    for _ in range(_CLAIM_ATTEMPTS):
        existing = versions(base)
        version = str(max(int(clock()),
                          int(existing[-1]) + 1 if existing else 0))
        final = version_dir(base, version)
        if FILES.exists(final):
            continue
        try:
            # Fails if another push moved its copy to `final` meanwhile.
            FILES.move(staging, final)
        except Exception as error:  # pylint: disable=broad-except
            if "://" not in staging:
                # OSError: a lost race, with the staging copy still whole.
                if isinstance(error, OSError) and FILES.exists(staging):
                    continue
                raise
            # An object store's move is not one step: nothing is retried.
            raise PublishError(
                f"moving the checked copy {staging} to {final} stopped "
                f"({type(error).__name__}: {error}); unless {LAST_FILE} got "
                f"there, no server loads {final}. Remove {final} and "
                f"{staging}; nothing else was published.") from None
        break
    else:
        FILES.rmtree(staging)
        raise PublishError(f"could not claim a new version in {base} in "
                           f"{_CLAIM_ATTEMPTS} attempts; nothing was "
                           "published.")
    with FILES.open(_join(base, SOURCE_PREFIX + version), "w") as f:
        f.write(model_source or model_dir)
    with FILES.open(manifest_path(base, version), "w") as f:
        f.write(json.dumps(dict(extra or {}, version=version,
                                source=model_source or model_dir,
                                files=expected), indent=1, sort_keys=True))
    return version, final
