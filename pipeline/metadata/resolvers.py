"""Resolver strategies: which model a run compares with, and which it
starts from. TFX runs them inside the pipeline, with the store.

**Baseline.** TFX's `LatestBlessedModelStrategy` returns the latest blessed
model, which on a re-run with unchanged data is the very model the (cached)
Trainer just returned. The Evaluator then sees new inputs, evaluates the
model against itself, blesses it again, and the Pusher pushes the same model
as a new version. Asking for the latest model blessed *before the candidate
was trained* gives a cached re-run exactly the inputs of the first run, so
Evaluator and Pusher are cached too, while a newly trained model is still
compared with the last blessed one.

**Warm start.** The base model is the latest blessed model that was trained
on *other* examples than this run's. A run on unchanged data (whose
ExampleGen is cached and returns the same examples) therefore resolves the
same base as the run that first saw those examples, so its Trainer stays
cached; a run on new data starts from the newest blessed model.
"""

from typing import Dict, List, Optional, Set

from tfx import types
from tfx.dsl.components.common import resolver

from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata import models as models_lib
from pipeline.metadata.store import MetadataStore

# The resolvers' input (and so output) keys.
MODEL_KEY = "model"
BLESSING_KEY = "model_blessing"
CANDIDATE_KEY = "candidate"
EXAMPLES_KEY = "examples"


def _blessed(blessings: List[types.Artifact]) -> Dict[int, types.Artifact]:
    """Model id -> its positive blessing."""
    return {
        b.get_int_custom_property(models_lib.CURRENT_MODEL_ID_PROPERTY): b
        for b in blessings
        if b.get_int_custom_property(models_lib.BLESSED_PROPERTY) == 1}


def latest_blessed_before(models: List[types.Artifact],
                          blessings: List[types.Artifact],
                          candidates: List[types.Artifact]
                          ) -> Dict[str, List[types.Artifact]]:
    """The latest blessed model older than every candidate, and its blessing.

    Artifact ids grow with registration order in ML Metadata, so "older"
    means a smaller id.
    """
    limit = min((c.id for c in candidates), default=None)
    blessed = _blessed(blessings)
    for model in sorted(models, key=lambda a: a.id, reverse=True):
        if (limit is None or model.id < limit) and model.id in blessed:
            return {MODEL_KEY: [model], BLESSING_KEY: [blessed[model.id]]}
    return {MODEL_KEY: [], BLESSING_KEY: []}


class LatestBlessedBeforeCandidateStrategy(resolver.ResolverStrategy):
    """Resolver strategy around `latest_blessed_before`.

    Inputs: `model` (all models), `model_blessing` (all blessings),
    `candidate` (this run's Trainer output).
    """

    def resolve_artifacts(
        self, store: MetadataStore,
        input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        result = latest_blessed_before(input_dict.get(MODEL_KEY, []),
                                       input_dict.get(BLESSING_KEY, []),
                                       input_dict.get(CANDIDATE_KEY, []))
        result[CANDIDATE_KEY] = list(input_dict.get(CANDIDATE_KEY, []))
        return result


def training_examples(store: MetadataStore, model_id: int) -> Set[int]:
    """Ids of the examples the Trainer that produced `model_id` read."""
    trainer = lineage.producer(store, model_id)
    if trainer is None:
        return set()
    return {a.id for a in lineage.inputs(store, trainer).get(
        nodes.EXAMPLES_KEY, [])}


def base_model(store: MetadataStore, models: List[types.Artifact],
               blessings: List[types.Artifact],
               examples: List[types.Artifact]) -> List[types.Artifact]:
    """[the latest blessed model not trained on `examples`] or []."""
    blessed = _blessed(blessings)
    current = {e.id for e in examples}
    for model in sorted(models, key=lambda a: a.id, reverse=True):
        if model.id in blessed and not (
                training_examples(store, model.id) & current):
            return [model]
    return []


class WarmStartModelStrategy(resolver.ResolverStrategy):
    """Resolver strategy around `base_model`.

    Inputs: `model` (all models), `model_blessing` (all blessings),
    `examples` (this run's ExampleGen output). Output: `model`, the base
    model or nothing.
    """

    def resolve_artifacts(
        self, store: MetadataStore,
        input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        examples = list(input_dict.get(EXAMPLES_KEY, []))
        # A resolver's outputs are its inputs' keys, so examples pass on.
        return {MODEL_KEY: base_model(store, input_dict.get(MODEL_KEY, []),
                                      input_dict.get(BLESSING_KEY, []),
                                      examples),
                BLESSING_KEY: [], EXAMPLES_KEY: examples}
