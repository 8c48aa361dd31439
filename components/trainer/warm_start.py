"""Warm start: which model the Trainer starts from, and how.

The base model is the latest blessed model that was trained on *other*
examples than this run's. A run on unchanged data (whose ExampleGen is
cached and returns the same examples) therefore resolves the same base as
the run that first saw those examples, so its Trainer stays cached; a run
on new data starts from the newest blessed model.
"""

import os
from typing import Dict, List, Optional, Set

import ml_metadata as mlmd
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.evaluator import constants as eval_constants
from tfx.dsl.components.common import resolver

MODEL_KEY = "model"
BLESSING_KEY = "model_blessing"
EXAMPLES_KEY = "examples"
# Keras weights beside the SavedModel, in the Model artifact's directory.
WEIGHTS_DIR = "keras_weights"

_OUTPUT = (metadata_store_pb2.Event.OUTPUT,
           metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT = (metadata_store_pb2.Event.INPUT,
          metadata_store_pb2.Event.DECLARED_INPUT)


def _training_examples(store: mlmd.MetadataStore, model_id: int) -> Set[int]:
    """Ids of the examples the Trainer that produced `model_id` read."""
    producers = [e.execution_id for e in
                 store.get_events_by_artifact_ids([model_id])
                 if e.type in _OUTPUT]
    return {e.artifact_id for e in
            store.get_events_by_execution_ids(producers)
            if e.type in _INPUT and e.path.steps
            and e.path.steps[0].key == EXAMPLES_KEY}


def base_model(store: mlmd.MetadataStore, models: List[types.Artifact],
               blessings: List[types.Artifact],
               examples: List[types.Artifact]) -> List[types.Artifact]:
    """[the latest blessed model not trained on `examples`] or []."""
    blessed = {b.get_int_custom_property(
        eval_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY)
        for b in blessings
        if b.get_int_custom_property(
            eval_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1}
    current = {e.id for e in examples}
    for model in sorted(models, key=lambda a: a.id, reverse=True):
        if model.id in blessed and not (
                _training_examples(store, model.id) & current):
            return [model]
    return []


class WarmStartModelStrategy(resolver.ResolverStrategy):
    """Resolver strategy around `base_model`.

    Inputs: `model` (all models), `model_blessing` (all blessings),
    `examples` (this run's ExampleGen output). Output: `model`, the base
    model or nothing.
    """

    def resolve_artifacts(
        self, store: mlmd.MetadataStore,
        input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        examples = list(input_dict.get(EXAMPLES_KEY, []))
        # A resolver's outputs are its inputs' keys, so examples pass on.
        return {MODEL_KEY: base_model(store, input_dict.get(MODEL_KEY, []),
                                      input_dict.get(BLESSING_KEY, []),
                                      examples),
                BLESSING_KEY: [], EXAMPLES_KEY: examples}


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
