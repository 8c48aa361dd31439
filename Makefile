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

IMAGE ?= tfds-pipeline:0.1.0

.PHONY: install run test test-fast benchmark image clean

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

# The image Kubeflow and Vertex tasks run (see Dockerfile); push it and pass
# the same tag to `compile --image` (or PIPELINE_IMAGE).
image:
	docker build -t $(IMAGE) .

clean:
	rm -rf output build *.egg-info
