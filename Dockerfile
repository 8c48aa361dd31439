# The image every Kubeflow / Vertex task runs: the pinned dependency set and
# this package, nothing else, run as a non-root user. Build it with
# `make image` (Docker where a daemon runs, buildah otherwise; see
# image/build.sh), export it with `make image-archive`, push it, and pass the
# tag to `compile --image`.
#
# BASE_IMAGE is any Debian 12 image with Python 3.11 and its venv module:
# the official python:3.11.7-slim-bookworm (the interpreter the pinned set
# was verified on), or, on a machine that reaches no registry, the base
# image/debian-base.sh makes from Debian's archive (Debian's Python 3.11).
ARG BASE_IMAGE=python:3.11.7-slim-bookworm

# Stage 1 builds the virtual environment: a few of the pinned packages
# (pyfarmhash among them) ship no wheel and compile here, with a compiler
# that stays out of the image.
FROM ${BASE_IMAGE} AS venv

# GPU=1 adds the CUDA libraries TensorFlow 2.16 loads from pip
# (tensorflow[and-cuda] pins their exact versions).
ARG GPU=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# Every wheel of the pinned set is built for CPython 3.11 (cp311). Python's
# headers come with the official python images; Debian's are python3-dev.
RUN python3 -c 'import sys; v = sys.version_info[:2]; assert v == (3, 11), \
        f"the pinned set needs Python 3.11, this base has {v}"' \
    && headers=$(python3 -c 'import os, sysconfig; \
        print(os.path.exists(sysconfig.get_path("include") + "/Python.h"))') \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends g++ \
        $([ "$headers" = True ] || echo python3-dev) >/dev/null \
    && python3 -m venv /opt/venv

# tfx 1.16.0 declares Requires-Python <3.11 although its whole family has
# cp311 wheels, hence --ignore-requires-python; constraints.txt pins the set.
# The CA bundle and a private index, when the build needs them, are build
# secrets (mounted for this step only, never in a layer); pip's downloads
# stay in a build cache on the building machine. An empty package of the
# same name stands in for the code, so that pip installs exactly setup.py's
# requirements: the code comes in the last layers, and a change to it does
# not rebuild this one.
WORKDIR /build
COPY constraints.txt setup.py ./
RUN --mount=type=secret,id=pip_cert \
    --mount=type=secret,id=pip_index_url \
    --mount=type=cache,target=/root/.cache/pip \
    set -e; \
    if [ -s /run/secrets/pip_cert ]; then \
        export PIP_CERT=/run/secrets/pip_cert; fi; \
    if [ -s /run/secrets/pip_index_url ]; then \
        PIP_INDEX_URL="$(cat /run/secrets/pip_index_url)"; \
        export PIP_INDEX_URL; fi; \
    pip install --quiet "pip==24.2"; \
    mkdir -p pipeline components schemas && touch pipeline_config.py; \
    pip install --quiet --ignore-requires-python -c constraints.txt .; \
    if [ "$GPU" = "1" ]; then \
        pip install --quiet --ignore-requires-python -c constraints.txt \
            "tensorflow[and-cuda]"; fi; \
    pip uninstall --quiet --yes tfds-tfx-pipeline

# Stage 2, the image: the base, the venv, the code, a user.
FROM ${BASE_IMAGE}

# tensorflow-transform supports Keras 2 only: TF 2.16 gets it from tf-keras.
# The venv is first on PATH, so `python` in a task's command is its
# interpreter whichever base the image was built on.
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN useradd --uid 1000 --user-group --create-home --shell /bin/sh pipeline
COPY --from=venv /opt/venv /opt/venv

# pipeline_config.IMAGE_SETUP_FILE names setup.py here (Beam's --setup_file).
WORKDIR /opt/tfds-pipeline
COPY constraints.txt setup.py ./
COPY pipeline_config.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY schemas ./schemas
# No build isolation: setuptools is in the venv, and this step needs no
# download (nor the secrets above).
RUN pip install --quiet --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info \
    && pip check \
    && cd / && python -c "import pipeline.runners.node_entrypoint, schemas"

# A Beam SDK worker image too (docs/beam-runners.md): Beam's boot
# entrypoint where Beam's own images have it, which Dataflow starts as the
# container's entrypoint and a Flink worker pool runs as `boot
# --worker_pool`. The SDK workers run in this venv, which holds TFX and this
# package: Beam stages nothing for them, and boot makes no venv of its own.
COPY image/beam-boot/boot /opt/apache/beam/boot
ENV RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1

USER 1000:1000
ENV HOME=/home/pipeline

# Beam's boot is the entrypoint, as Dataflow requires of an SDK container
# image (`podman run IMAGE --worker_pool` serves a Flink worker pool). KFP
# and Vertex tasks set their own command (python -m
# pipeline.runners.node_entrypoint ...), which replaces it; by hand:
# `podman run --entrypoint python IMAGE -m pipeline --help`.
ENTRYPOINT ["/opt/apache/beam/boot"]
