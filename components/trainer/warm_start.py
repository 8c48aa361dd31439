"""Warm start, inside the Trainer: a model's Keras weights are kept beside
its SavedModel, and a run given a base model starts from its weights.

Which model is the base is decided between runs, from ML Metadata
(`pipeline/metadata/resolvers.py`).
"""

import os

import tensorflow as tf

# Keras weights beside the SavedModel, in the Model artifact's directory.
WEIGHTS_DIR = "keras_weights"


def weights_path(serving_model_dir: str) -> str:
    """Where a model's Keras weights live, from its serving dir
    (`<Model artifact>/Format-Serving`)."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")),
                        WEIGHTS_DIR, "weights")


def save(model: tf.keras.Model, serving_model_dir: str) -> None:
    model.save_weights(weights_path(serving_model_dir))


def load(model: tf.keras.Model, base_serving_dir: str) -> str:
    """Loads the base model's weights into `model`; returns their path."""
    path = weights_path(base_serving_dir)
    model.load_weights(path)
    return path
