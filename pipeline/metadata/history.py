"""Run and model history for the `runs` and `models` commands: records
ready to print or dump as JSON, read from ML Metadata alone.

Works on any store TFX writes to (the local sqlite file, MySQL, a metadata
gRPC service). Reads only the runs and models asked for, and never loads
TensorFlow: accuracy comes from the evaluation artifact's recorded metrics
(components/evaluator/metrics.py). Only evaluations recorded before those
existed are read from TFMA's files, importing it then.
"""

import dataclasses
import datetime
import json
import os
from typing import Dict, List, Optional

from components.evaluator import metrics as evaluator_metrics
from components.tfds_example_gen import properties as example_properties
from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata import models as models_lib
from pipeline.metadata import runs as runs_lib
from pipeline.metadata.store import MetadataStore


@dataclasses.dataclass
class RunRecord:
    """One pipeline run, as ML Metadata remembers it."""
    run_id: str
    started: datetime.datetime
    finished: datetime.datetime
    status: str  # succeeded, failed or incomplete (killed or running)
    components: Dict[str, str]  # node id -> executed/cached/failed/...
    data_fingerprint: Optional[str]
    dataset: Optional[str]
    accuracy: Optional[float]
    blessed: Optional[bool]
    pushed_version: Optional[str]

    def to_json(self) -> dict:
        return _json(self)


@dataclasses.dataclass
class ModelRecord:
    """One pushed model and its lineage back to the data."""
    version: str
    destination: str
    pushed: datetime.datetime
    run_id: Optional[str]
    model_uri: str
    trained_in_run: Optional[str]
    accuracy: Optional[float]
    data_fingerprint: Optional[str]
    dataset: Optional[str]
    examples_uri: Optional[str]
    # A rollback's record: the version it published again.
    restores: Optional[str] = None
    # Accuracy per class index, and the classes' names by index.
    per_class_accuracy: Dict[str, float] = dataclasses.field(
        default_factory=dict)
    class_names: List[str] = dataclasses.field(default_factory=list)

    @property
    def weakest_class(self) -> Optional[str]:
        """The class the model gets wrong most, e.g. `6 (Shirt) 0.6100`."""
        if not self.per_class_accuracy:
            return None
        index, value = min(self.per_class_accuracy.items(),
                           key=lambda kv: kv[1])
        return (f"{example_properties.describe_class(index, self.class_names)}"
                f" {value:.4f}")

    def to_json(self) -> dict:
        return _json(self)


def _json(record) -> dict:
    """A record as JSON-ready values (times in ISO 8601)."""
    return {k: v.isoformat() if isinstance(v, datetime.datetime) else v
            for k, v in dataclasses.asdict(record).items()}


def _dataset(examples) -> Optional[str]:
    """`name[/config]:version` of an Examples artifact."""
    name = lineage.custom_property(examples, "tfds_name")
    if not name:
        return None
    config = lineage.custom_property(examples, "tfds_config")
    version = lineage.custom_property(examples, "tfds_version")
    return f"{name}{'/' + config if config else ''}:{version}"


def _accuracy(evaluation) -> Optional[float]:
    if evaluation is None:
        return None
    recorded = evaluator_metrics.recorded_accuracy(evaluation)
    if recorded is not None:
        return recorded
    # Recorded before the Evaluator kept its metrics in ML Metadata.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return evaluator_metrics.read_metrics(evaluation.uri).get("accuracy")


def _per_class(evaluation) -> Dict[str, float]:
    recorded = (lineage.custom_property(
        evaluation, evaluator_metrics.PER_CLASS_ACCURACY_PROPERTY)
        if evaluation is not None else None)
    return json.loads(recorded) if recorded else {}


def run_records(store: MetadataStore, pipeline: str,
                limit: Optional[int] = None) -> List[RunRecord]:
    """The newest `limit` runs (None: all), newest first."""
    records = []
    for run in runs_lib.runs(store, pipeline, limit):
        examples = runs_lib.examples(store, run)
        accuracy = blessed = pushed = None
        if run.state(nodes.EVALUATOR) in runs_lib.DONE_STATES:
            evaluator = runs_lib.outputs(store, run, nodes.EVALUATOR)
            evaluation = evaluator.get(nodes.EVALUATION_KEY)
            accuracy = _accuracy(evaluation[0] if evaluation else None)
            blessings = evaluator.get(nodes.BLESSING_KEY)
            blessed = bool(blessings) and lineage.custom_property(
                blessings[0], models_lib.BLESSED_PROPERTY) == 1
        if run.state(nodes.PUSHER) == runs_lib.EXECUTED_STATE:
            pushed_models = runs_lib.outputs(store, run, nodes.PUSHER).get(
                nodes.PUSHED_MODEL_KEY)
            if pushed_models and lineage.custom_property(
                    pushed_models[0], models_lib.PUSHED_PROPERTY) == 1:
                pushed = str(lineage.custom_property(
                    pushed_models[0], models_lib.PUSHED_VERSION_PROPERTY))
        records.append(RunRecord(
            run_id=run.run_id, started=run.started, finished=run.finished,
            status=run.status, components=run.states,
            data_fingerprint=(lineage.custom_property(
                examples, runs_lib.FINGERPRINT_PROPERTY)
                if examples else None),
            dataset=_dataset(examples) if examples else None,
            accuracy=accuracy, blessed=blessed, pushed_version=pushed))
    return records


def model_records(store: MetadataStore, pipeline: str,
                  limit: Optional[int] = None) -> List[ModelRecord]:
    """The newest `limit` pushed models (None: all), newest first."""
    records = []
    for model in models_lib.pushed_models(store, pipeline, limit):
        examples = model.examples
        records.append(ModelRecord(
            version=model.version, destination=model.destination,
            pushed=models_lib.pushed_time(store, model),
            run_id=models_lib.run_of(store, model.pusher_execution_id),
            model_uri=model.model.uri,
            trained_in_run=models_lib.run_of(store,
                                             model.trainer_execution_id),
            accuracy=_accuracy(model.evaluation),
            data_fingerprint=(lineage.custom_property(
                examples, runs_lib.FINGERPRINT_PROPERTY)
                if examples else None),
            dataset=_dataset(examples) if examples else None,
            examples_uri=examples.uri if examples else None,
            restores=model.restores,
            per_class_accuracy=_per_class(model.evaluation),
            class_names=runs_lib.class_names(examples)))
    return records
