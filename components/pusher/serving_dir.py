"""The serving directory: its one home. What TensorFlow Serving loads, and
what the Pusher keeps beside each version so that a reader can trust it.

  <base>/<version>/                 a SavedModel; TF Serving serves the
                                    highest all-digit name
  <base>/.incomplete-<version>/     a push in progress (not all digits, so
                                    never loaded; removed by the next push)
  <base>/.source-<version>          the trained model it was pushed from
  <base>/.manifest-<version>.json   sha256 of every file of the version

A version is published by copying the model into a staging directory,
checking the copy against the model's checksums and renaming it into place:
atomic on a local or POSIX file system (on GCS a rename is a copy, so
there only the manifest, written before the rename, protects a reader).

Local paths go through `os`; URIs (`gs://...`) through `tf.io.gfile`,
imported only then, so that `models --verify` and `rollback` on a local
directory do not pay TensorFlow's start-up.
"""

import hashlib
import json
import os
import shutil
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

STAGING_PREFIX = ".incomplete-"
SOURCE_PREFIX = ".source-"
MANIFEST_PREFIX = ".manifest-"
MANIFEST_SUFFIX = ".json"
_CHUNK = 1 << 20


class PublishError(RuntimeError):
    """A copy did not match its source; nothing was published."""


class _Files:
    """The few file operations the layout needs, local or on a URI."""

    @staticmethod
    def gfile(path: str):
        if "://" not in path:
            return None
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        return tf.io.gfile

    def exists(self, path: str) -> bool:
        gfile = self.gfile(path)
        return gfile.exists(path) if gfile else os.path.exists(path)

    def listdir(self, path: str) -> List[str]:
        gfile = self.gfile(path)
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

    def rename(self, source: str, destination: str) -> None:
        gfile = self.gfile(source)
        if gfile:
            gfile.rename(source, destination)
        else:
            os.rename(source, destination)

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
    """The version's manifest, or None if it has none (pushed before
    manifests existed) or it cannot be read as one."""
    path = manifest_path(base, version)
    if not FILES.exists(path):
        return None
    try:
        with FILES.open(path, "r") as f:
            manifest = json.loads(f.read())
    except ValueError:
        return None
    return manifest if isinstance(manifest.get("files"), dict) else None


def problems(base: str, version: str) -> List[str]:
    """What is wrong with a served version against its manifest ([]: it is
    intact): files missing, changed or not in the manifest, or no
    manifest."""
    manifest = read_manifest(base, version)
    if manifest is None:
        return [f"no readable manifest ({manifest_path(base, version)})"]
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


def publish(model_dir: str, base: str,
            clock: Callable[[], float] = time.time,
            model_source: Optional[str] = None,
            extra: Optional[dict] = None) -> Tuple[str, str]:
    """Copies `model_dir` to a new version under `base`, atomically, with
    its manifest.

    The version is the current Unix time, or one more than the newest
    existing version if that is later, so versions only grow.

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
      PublishError: the copy differs from `model_dir` (nothing published).
    """
    FILES.makedirs(base)
    existing = []
    for name in FILES.listdir(base):
        if name.startswith(STAGING_PREFIX):
            # Left by a push that crashed; never loaded by a model server.
            FILES.rmtree(_join(base, name))
        elif name.isdigit():
            existing.append(int(name))
    version = str(max(int(clock()), max(existing, default=0) + 1))
    staging = _join(base, STAGING_PREFIX + version)
    expected = checksums(model_dir)
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
    with FILES.open(_join(base, SOURCE_PREFIX + version), "w") as f:
        f.write(model_source or model_dir)
    with FILES.open(manifest_path(base, version), "w") as f:
        f.write(json.dumps(dict(extra or {}, version=version,
                                source=model_source or model_dir,
                                files=expected), indent=1, sort_keys=True))
    final = version_dir(base, version)
    FILES.rename(staging, final)
    return version, final
