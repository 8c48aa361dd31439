# The image every Kubeflow / Vertex task runs: the pinned dependency set and
# this package, nothing else. Build and push (the tag is what `compile
# --image` takes):
#   docker build -t gcr.io/PROJECT/tfds-pipeline:0.1.0 .
#   docker build --build-arg GPU=1 -t gcr.io/PROJECT/tfds-pipeline:0.1.0-gpu .
# Debian 12 and Python 3.11, as the set was verified on (see constraints.txt).
FROM python:3.11.7-slim-bookworm

# GPU=1 adds the CUDA libraries TensorFlow 2.16 loads from pip
# (tensorflow[and-cuda] pins their exact versions).
ARG GPU=0

# tensorflow-transform supports Keras 2 only: TF 2.16 gets it from tf-keras.
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pipeline_config.IMAGE_SETUP_FILE names setup.py here (Beam's --setup_file).
WORKDIR /opt/tfds-pipeline
RUN pip install "pip==24.2"

# tfx 1.16.0 declares Requires-Python <3.11 although its whole family has
# cp311 wheels, hence --ignore-requires-python; constraints.txt pins the set.
COPY constraints.txt setup.py pipeline_config.py ./
COPY pipeline ./pipeline
COPY components ./components
COPY schemas ./schemas
RUN pip install --ignore-requires-python -c constraints.txt . \
    && if [ "$GPU" = "1" ]; then \
        pip install --ignore-requires-python -c constraints.txt \
            "tensorflow[and-cuda]"; fi \
    && pip check \
    && cd / && python -c "import pipeline.runners.node_entrypoint, schemas"

# The default command shows the entrypoint's usage; KFP and Vertex tasks set
# their own command (python -m pipeline.runners.node_entrypoint ...).
CMD ["python", "-m", "pipeline", "--help"]
