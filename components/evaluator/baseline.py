"""Resolving the baseline model: the last model blessed before the candidate.

TFX's `LatestBlessedModelStrategy` returns the latest blessed model, which on
a re-run with unchanged data is the very model the (cached) Trainer just
returned. The Evaluator then sees new inputs, evaluates the model against
itself, blesses it again, and the Pusher pushes the same model as a new
version. Asking for the latest model blessed *before the candidate was
trained* gives a cached re-run exactly the inputs of the first run, so
Evaluator and Pusher are cached too, while a newly trained model is still
compared with the last blessed one.
"""

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.components.evaluator import constants as eval_constants
from tfx.dsl.components.common import resolver

MODEL_KEY = "model"
BLESSING_KEY = "model_blessing"
CANDIDATE_KEY = "candidate"


def latest_blessed_before(models: List[types.Artifact],
                          blessings: List[types.Artifact],
                          candidates: List[types.Artifact]
                          ) -> Dict[str, List[types.Artifact]]:
    """The latest blessed model older than every candidate, and its blessing.

    Artifact ids grow with registration order in ML Metadata, so "older"
    means a smaller id.
    """
    limit = min((c.id for c in candidates), default=None)
    blessed = {
        b.get_int_custom_property(
            eval_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY): b
        for b in blessings
        if b.get_int_custom_property(
            eval_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1}
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
        self, store: mlmd.MetadataStore,
        input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        result = latest_blessed_before(input_dict.get(MODEL_KEY, []),
                                       input_dict.get(BLESSING_KEY, []),
                                       input_dict.get(CANDIDATE_KEY, []))
        result[CANDIDATE_KEY] = list(input_dict.get(CANDIDATE_KEY, []))
        return result
