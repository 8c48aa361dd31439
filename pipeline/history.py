"""Run and model history, read from ML Metadata alone.

Works on any store TFX writes to (the local sqlite file, MySQL, KFP's
metadata service): a pipeline run is a `pipeline_run` context, a node's
executions share its `node` context (`<pipeline>.<node id>`), and lineage
is the events between executions and artifacts.
"""

import dataclasses
import datetime
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import summary

_Execution = metadata_store_pb2.Execution
_Event = metadata_store_pb2.Event
_OUTPUTS = (_Event.OUTPUT, _Event.DECLARED_OUTPUT)
_INPUTS = (_Event.INPUT, _Event.DECLARED_INPUT)
STATE_WORDS = {_Execution.COMPLETE: "executed", _Execution.CACHED: "cached",
               _Execution.FAILED: "failed", _Execution.RUNNING: "running",
               _Execution.NEW: "new", _Execution.CANCELED: "canceled"}


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

    def to_json(self) -> dict:
        return _json(self)


def _json(record) -> dict:
    """A record as JSON-ready values (times in ISO 8601)."""
    return {k: v.isoformat() if isinstance(v, datetime.datetime) else v
            for k, v in dataclasses.asdict(record).items()}


def _time(milliseconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(milliseconds / 1000,
                                           datetime.timezone.utc)


_custom = summary.custom_property


def pipeline_names(store: metadata_store.MetadataStore) -> List[str]:
    """The pipelines the store has runs of."""
    return sorted(c.name for c in store.get_contexts_by_type("pipeline"))


class History:
    """Reads one pipeline's runs and models from a store."""

    def __init__(self, store: metadata_store.MetadataStore,
                 pipeline_name: str):
        self._store = store
        self._pipeline = pipeline_name
        self._node_of: Dict[int, str] = {}  # execution id -> node id
        prefix = pipeline_name + "."
        for context in store.get_contexts_by_type("node"):
            if context.name.startswith(prefix):
                for execution in store.get_executions_by_context(context.id):
                    self._node_of[execution.id] = context.name[len(prefix):]
        self._nodes = set(self._node_of.values())
        self._run_of: Dict[int, str] = {}  # execution id -> run id
        self._runs: Dict[str, List[metadata_store_pb2.Execution]] = {}
        for context in store.get_contexts_by_type("pipeline_run"):
            executions = [e for e in store.get_executions_by_context(
                context.id) if e.id in self._node_of]
            if executions:
                self._runs[context.name] = executions
                for execution in executions:
                    self._run_of[execution.id] = context.name

    def _artifacts(self, execution_id: int, kinds, key: str):
        events = [e for e in self._store.get_events_by_execution_ids(
            [execution_id]) if e.type in kinds and e.path.steps
            and e.path.steps[0].key == key]
        return self._store.get_artifacts_by_id([e.artifact_id
                                                for e in events])

    def _producer(self, artifact_id: int) -> Optional[int]:
        for event in self._store.get_events_by_artifact_ids([artifact_id]):
            if event.type in _OUTPUTS:
                return event.execution_id
        return None

    @staticmethod
    def _dataset(examples) -> Optional[str]:
        name = _custom(examples, "tfds_name")
        if not name:
            return None
        config = _custom(examples, "tfds_config")
        version = _custom(examples, "tfds_version")
        return f"{name}{'/' + config if config else ''}:{version}"

    def _accuracy(self, evaluator_execution_id: int) -> Optional[float]:
        evaluations = self._artifacts(evaluator_execution_id, _OUTPUTS,
                                      "evaluation")
        if not evaluations:
            return None
        return summary.read_metrics(evaluations[0].uri).get("accuracy")

    def _run_state(self, executions):
        """(node id -> its execution, node id -> state, run status)."""
        by_node = {}
        for execution in sorted(executions, key=lambda e: e.id):
            by_node[self._node_of[execution.id]] = execution
        states = {n: e.last_known_state for n, e in by_node.items()}
        if _Execution.FAILED in states.values():
            status = "failed"
        elif (set(states) == self._nodes and set(states.values())
              <= {_Execution.COMPLETE, _Execution.CACHED}):
            status = "succeeded"
        else:  # Killed mid-run, or still running.
            status = "incomplete"
        return by_node, states, status

    def _examples(self, by_node):
        """The run's Examples artifact, or None."""
        if "TfdsExampleGen" not in by_node:
            return None
        examples = self._artifacts(by_node["TfdsExampleGen"].id, _OUTPUTS,
                                   "examples")
        return examples[0] if examples else None

    def _newest_first(self):
        """(run id, executions), the newest run first."""
        return sorted(self._runs.items(), reverse=True, key=lambda item: min(
            e.create_time_since_epoch for e in item[1]))

    def runs(self) -> List[RunRecord]:
        """Every run of the pipeline, newest first."""
        records = []
        for run_id, executions in self._newest_first():
            by_node, states, status = self._run_state(executions)
            examples = self._examples(by_node)
            accuracy = blessed = pushed = None
            if "Evaluator" in by_node and states["Evaluator"] in (
                    _Execution.COMPLETE, _Execution.CACHED):
                accuracy = self._accuracy(by_node["Evaluator"].id)
                blessings = self._artifacts(by_node["Evaluator"].id,
                                            _OUTPUTS, "blessing")
                blessed = bool(blessings) and _custom(
                    blessings[0], "blessed") == 1
            if states.get("Pusher") == _Execution.COMPLETE:
                pushed_models = self._artifacts(by_node["Pusher"].id,
                                                _OUTPUTS, "pushed_model")
                if pushed_models and _custom(pushed_models[0],
                                             "pushed") == 1:
                    pushed = _custom(pushed_models[0], "pushed_version")
            records.append(RunRecord(
                run_id=run_id,
                started=_time(min(e.create_time_since_epoch
                                  for e in executions)),
                finished=_time(max(e.last_update_time_since_epoch
                                   for e in executions)),
                status=status,
                components={n: STATE_WORDS.get(s, str(s))
                            for n, s in states.items()},
                data_fingerprint=(_custom(examples, "data_fingerprint")
                                  if examples else None),
                dataset=self._dataset(examples) if examples else None,
                accuracy=accuracy, blessed=blessed, pushed_version=pushed))
        return records

    def models(self) -> List[ModelRecord]:
        """Every model pushed, newest first, with its lineage."""
        records = []
        pushers = [e for e, node in self._node_of.items() if node == "Pusher"]
        for pusher_id in pushers:
            [execution] = self._store.get_executions_by_id([pusher_id])
            if execution.last_known_state != _Execution.COMPLETE:
                continue
            pushed_models = self._artifacts(pusher_id, _OUTPUTS,
                                            "pushed_model")
            if not pushed_models or _custom(pushed_models[0],
                                            "pushed") != 1:
                continue
            pushed = pushed_models[0]
            model = self._artifacts(pusher_id, _INPUTS, "model")[0]
            trainer_id = self._producer(model.id)
            examples = (self._artifacts(trainer_id, _INPUTS, "examples")
                        if trainer_id else [])
            accuracy = None
            blessings = self._artifacts(pusher_id, _INPUTS, "model_blessing")
            if blessings:
                evaluator_id = self._producer(blessings[0].id)
                if evaluator_id:
                    accuracy = self._accuracy(evaluator_id)
            records.append(ModelRecord(
                version=_custom(pushed, "pushed_version"),
                destination=_custom(pushed, "pushed_destination"),
                pushed=_time(execution.last_update_time_since_epoch),
                run_id=self._run_of.get(pusher_id),
                model_uri=model.uri,
                trained_in_run=self._run_of.get(trainer_id),
                accuracy=accuracy,
                data_fingerprint=(_custom(examples[0], "data_fingerprint")
                                  if examples else None),
                dataset=self._dataset(examples[0]) if examples else None,
                examples_uri=examples[0].uri if examples else None))
        return sorted(records, key=lambda r: int(r.version), reverse=True)

    def last_ingested_fingerprint(self) -> Optional[str]:
        """The data fingerprint of the newest run that succeeded: what a
        scheduled run compares the data with. Reads no evaluation output."""
        for _, executions in self._newest_first():
            by_node, _, status = self._run_state(executions)
            examples = self._examples(by_node)
            fingerprint = (_custom(examples, "data_fingerprint")
                           if examples else None)
            if status == "succeeded" and fingerprint:
                return fingerprint
        return None
