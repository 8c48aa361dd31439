"""The project's image, built for the tests that run tasks in containers.

`build()` builds the Dockerfile with `image/build.sh` (buildah where no
Docker daemon answers, as here), once per test module that asks (a
module-scoped fixture), on the base image
`PIPELINE_TEST_BASE_IMAGE` names (default the Dockerfile's own; `.ci/run`
makes a Debian 12 base with `image/debian-base.sh`, since these machines
reach no registry). Layers are cached by the engine, so a session that
changed only code rebuilds only the last layers. podman and buildah read
`image/containers.conf` unless CONTAINERS_CONF names another (see that file
for why these hosts need it). Debian's packages are installed when the
tests run as root on a machine without them, as `tests/mariadb.py` does.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import time

from tests.conftest import REPO

PACKAGES = ["buildah", "podman", "runc", "skopeo", "fuse-overlayfs",
            "uidmap", "conmon", "debootstrap"]
TAG = "localhost/tfds-pipeline:test"
BASE_ENV = "PIPELINE_TEST_BASE_IMAGE"
# The Dockerfile's USER: the folders its tasks write must be theirs.
IMAGE_UID = 1000


def engine_env() -> dict:
    """The environment podman and buildah run with."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF",
                   os.path.join(REPO, "image", "containers.conf"))
    return env


def installed() -> bool:
    """Whether podman and buildah are installed."""
    return bool(shutil.which("podman") and shutil.which("buildah"))


def ensure_installed() -> None:
    """Installs Debian's container tools if podman or buildah is missing."""
    if installed():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "podman and buildah are not installed; install Debian's "
            f"packages (apt-get install {' '.join(PACKAGES)}) to run the "
            "container tests.")
    subprocess.run(["apt-get", "install", "-y", "-q",
                    "--no-install-recommends", *PACKAGES], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                   stdout=subprocess.DEVNULL)


@dataclasses.dataclass(frozen=True)
class Image:
    """A built image: its tag, how long the build took, its size."""
    tag: str
    build_seconds: float
    size_bytes: int


def podman(*args, **kwargs) -> subprocess.CompletedProcess:
    """podman with the engine's settings; raises on failure."""
    return subprocess.run(["podman", *args], env=engine_env(),
                          capture_output=True, text=True, check=True,
                          **kwargs)


def build(tag: str = TAG) -> Image:
    """Builds the Dockerfile into `tag` with image/build.sh."""
    ensure_installed()
    base = os.environ.get(BASE_ENV, "python:3.11.7-slim-bookworm")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", os.path.join(REPO, "image", "build.sh"), tag, base],
        env=engine_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"image build failed:\n{result.stderr[-4000:]}")
    seconds = time.monotonic() - started
    [inspected] = json.loads(podman("image", "inspect", tag).stdout)
    return Image(tag, seconds, int(inspected["Size"]))


def claim(data_dir: str, folder: str) -> str:
    """`folder` made into the claim every task container mounts: the
    prepared TFDS data at `data_dir` copied into `folder`/tfds, all of it
    owned by the image's user (as a pod's fsGroup makes a claim)."""
    shutil.copytree(data_dir, os.path.join(folder, "tfds"))
    for parent, dirs, files in os.walk(folder):
        for name in [parent] + [os.path.join(parent, n)
                                for n in dirs + files]:
            os.chown(name, IMAGE_UID, IMAGE_UID)
    return folder
