# Two entry points (see README): `make run` and `make test`. Both create the
# virtual environment at .venv and install the pinned dependency set first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# tfx 1.16.0 declares Requires-Python <3.11 although every compiled part of
# its family has cp311 wheels; constraints.txt pins the set known to work.
PIP_INSTALL := $(VENV)/bin/pip install --ignore-requires-python -c constraints.txt
ARGS ?=
export TF_USE_LEGACY_KERAS := 1

IMAGE ?= localhost/tfds-pipeline:0.1.0
BASE_IMAGE ?= python:3.11.7-slim-bookworm
DEBIAN_BASE ?= localhost/debian12-python:3.11
GPU ?= 0
ARCHIVE ?= build/tfds-pipeline.oci.tar

.PHONY: install run test test-fast benchmark image base-image image-archive \
	flink-job-server flink clean

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "pip==24.2"
	$(PIP_INSTALL) --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m pipeline run --output-dir output $(ARGS)

test: install
	$(PY) -m pytest -ra --durations=15 $(ARGS)

test-fast: install
	$(PY) -m pytest -ra -m "not slow and not full_data" $(ARGS)

benchmark: install
	$(PY) benchmarks/pipeline_vs_plain.py $(ARGS)

# The image Kubeflow and Vertex tasks run (see Dockerfile), built with Docker
# where a daemon answers and with buildah otherwise (image/build.sh). Push it
# and pass the same tag to `compile --image` (or PIPELINE_IMAGE):
#   make image IMAGE=registry.example/tfds-pipeline:0.1.0 [GPU=1]
# Without a registry to pull the base from: `make base-image`, then
#   make image BASE_IMAGE=localhost/debian12-python:3.11
image:
	bash image/build.sh $(IMAGE) $(BASE_IMAGE) $(GPU)

# A Debian 12 base with Python 3.11 from Debian's archive (debootstrap).
base-image:
	bash image/debian-base.sh $(DEBIAN_BASE)

# The image as an OCI archive, what `skopeo copy` pushes to a registry or
# `podman load` / `docker load` loads elsewhere; skopeo reads the image from
# Docker's daemon or from buildah's and podman's local storage.
image-archive:
	mkdir -p $(dir $(ARCHIVE))
	rm -f $(ARCHIVE)
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; \
	then source=docker-daemon; else source=containers-storage; fi; \
	skopeo copy $$source:$(IMAGE) oci-archive:$(ARCHIVE):$(IMAGE)
	@ls -l $(ARCHIVE)

# Beam's Flink job server (docs/beam-runners.md), from Maven: a jar whose
# manifest names its class path (build/flink-job-server/lib) and the Flink
# it was built for. `--beam-runner flink` points Beam at it.
FLINK_JOB_SERVER := build/flink-job-server/beam-runners-flink-job-server.jar
flink-job-server: $(FLINK_JOB_SERVER)
$(FLINK_JOB_SERVER): flink/job-server/pom.xml
	rm -rf build/flink-job-server
	mvn -q -B -f flink/job-server/pom.xml package
	rm -rf build/flink-job-server/target

# Flink itself, the version the job server is built for, from PyPI's
# apache-flink-libraries (lib/, opt/, plugins/) and apache-flink (bin/,
# conf/) in a venv of its own, without their dependencies (they pin an old
# Beam): FLINK_HOME is its pyflink folder. For a cluster on this machine
# (the tests start one: tests/flink.py).
FLINK_VERSION := $(shell sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' flink/job-server/pom.xml)
FLINK_VENV := build/flink-$(FLINK_VERSION)
flink: $(FLINK_VENV)/.installed
$(FLINK_VENV)/.installed: flink/job-server/pom.xml
	$(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/pip install --quiet --no-deps \
	    apache-flink-libraries==$(FLINK_VERSION) apache-flink==$(FLINK_VERSION)
	touch $@

clean:
	rm -rf output build *.egg-info
