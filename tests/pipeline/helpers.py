"""Helpers for the end-to-end tests: configs, CLI runs, model checks."""

import glob
import json
import os
import subprocess
import tempfile
import sys

import numpy as np
import tensorflow as tf

import pipeline_config as pc
from components.tfds_example_gen import converter
from pipeline import nodes
from tests import tiny_dataset
from tests.conftest import REPO, SCHEMA

NODES = [nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.SCHEMA_IMPORTER,
         nodes.EXAMPLE_VALIDATOR, nodes.TRANSFORM, nodes.TRAINER,
         nodes.BASELINE_RESOLVER, nodes.EVALUATOR, nodes.SERVING_VALIDATOR,
         nodes.PUSHER]
# Resolvers have no executor to cache: they resolve again on every run.
CACHEABLE = [n for n in NODES if n != nodes.BASELINE_RESOLVER]


def tiny_config(output_dir, data_dir, dataset_config="clean",
                min_accuracy=0.8, **training) -> pc.PipelineConfig:
    """Two epochs on the tiny dataset; one pipeline name for both configs,
    so the noisy data's model is compared with the clean data's."""
    return pc.PipelineConfig(
        output_dir=str(output_dir),
        dataset=pc.DatasetConfig(name="tiny_images", config=dataset_config,
                                 data_dir=data_dir),
        training=pc.TrainingConfig(epochs=2, **training),
        evaluation=pc.EvaluationConfig(min_accuracy=min_accuracy),
        schema_path=SCHEMA, pipeline_name="tiny-images-e2e")


def cli_args(output_dir, data_dir, *extra):
    """`python -m pipeline run` on the tiny dataset."""
    return [sys.executable, "-m", "pipeline", "run",
            "--output-dir", str(output_dir), "--dataset", "tiny_images",
            "--dataset-config", "clean", "--tfds-data-dir", data_dir,
            "--schema", SCHEMA, "--epochs", "2", *extra]


def run_cli(args, timeout=900, env=None) -> subprocess.CompletedProcess:
    """Runs a command and asserts that nothing it started outlived it
    (tests/reaper.py)."""
    env = dict(env or os.environ, TF_USE_LEGACY_KERAS="1")
    with tempfile.NamedTemporaryFile(suffix=".json") as outlived_file:
        result = subprocess.run(
            [sys.executable, "-m", "tests.reaper", outlived_file.name,
             *args], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=timeout, check=False)
        outlived = json.loads(outlived_file.read() or b"null")
    assert outlived is not None, f"tests/reaper.py could not run {args}: " \
        f"{result.stderr[-2000:]}"
    assert outlived == [], (
        f"{args[:4]} left processes behind: {outlived}")
    return result


def statuses(summary):
    return {n: c["status"] for n, c in summary["components"].items()}


def training_records(output_dir):
    """training.json of every Trainer execution, oldest first."""
    paths = sorted(glob.glob(os.path.join(
        str(output_dir), "pipeline_root", nodes.TRAINER, "model_run", "*",
        "training.json")), key=lambda p: int(p.split(os.sep)[-2]))
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            records.append(json.load(f))
    return records


def serving_versions(serving_dir):
    if not os.path.isdir(serving_dir):
        return []
    return sorted(n for n in os.listdir(serving_dir) if n.isdigit())


def check_signatures(saved_model_dir, min_correct=0.9):
    """Both signatures answer with probabilities, the same for the same
    images, and mostly right."""
    model = tf.saved_model.load(saved_model_dir)
    rng = np.random.default_rng(7)
    labels = np.arange(20) % tiny_dataset.NUM_CLASSES
    images = np.stack([tiny_dataset.make_image(int(l), rng) for l in labels])
    encodings = {
        "image": converter.FeatureEncoding("raw", images.shape[1:], "uint8")}
    serialized = [converter.to_example({"image": img}, encodings)
                  .SerializeToString() for img in images]

    by_example = model.signatures["serving_default"](
        examples=tf.constant(serialized))["probabilities"].numpy()
    by_image = model.signatures["serving_images"](
        images=tf.constant(images))["probabilities"].numpy()
    for probabilities in (by_example, by_image):
        assert probabilities.shape == (len(labels), tiny_dataset.NUM_CLASSES)
        assert (probabilities >= 0).all()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(by_example, by_image, rtol=1e-5, atol=1e-6)
    assert (by_image.argmax(axis=1) == labels).mean() >= min_correct


def read_summary(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def same_model(model_dir, served_dir):
    """Whether a Model artifact dir holds the SavedModel served at
    `served_dir` (same saved_model.pb bytes)."""
    with open(os.path.join(model_dir, "Format-Serving", "saved_model.pb"),
              "rb") as a, open(os.path.join(served_dir, "saved_model.pb"),
                               "rb") as b:
        return a.read() == b.read()
