"""Models as ML Metadata records them: what was pushed, from which run and
data, and what a rollback published again. (Which model is a candidate's
baseline is the baseline resolver's decision, in resolvers.py.)"""

import dataclasses
import datetime
from typing import List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import constants

from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata.store import MetadataStore

# Custom properties TFX's Evaluator and Pusher write.
BLESSED_PROPERTY = "blessed"
CURRENT_MODEL_ID_PROPERTY = "current_model_id"
PUSHED_PROPERTY = "pushed"
PUSHED_VERSION_PROPERTY = "pushed_version"
PUSHED_DESTINATION_PROPERTY = "pushed_destination"
# What `rollback` records on the PushedModel it writes.
RESTORES_PROPERTY = "restores_version"
REPLACES_PROPERTY = "replaces_version"
ROLLBACK_TYPE = "tfds_pipeline.Rollback"
PUSHED_MODEL_TYPE = "PushedModel"


def _quoted(text: str) -> str:
    """A string literal for an ML Metadata filter query."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _of_pipeline(store: MetadataStore, pipeline: str, type_name: str,
                 extra: str = "") -> List[lineage.Artifact]:
    """Artifacts of one type that the pipeline's executions wrote, newest
    (highest id) first; `extra` narrows the filter query."""
    query = (f"type = {_quoted(type_name)} AND contexts_a.type = "
             f"{_quoted(constants.PIPELINE_CONTEXT_TYPE_NAME)} AND "
             f"contexts_a.name = {_quoted(pipeline)}"
             + (f" AND {extra}" if extra else ""))
    return sorted(store.get_artifacts(
        list_options=mlmd.ListOptions(filter_query=query)),
        key=lambda a: a.id, reverse=True)


def run_of(store: MetadataStore, execution_id: Optional[int]
           ) -> Optional[str]:
    """The id of the run an execution belongs to."""
    if execution_id is None:
        return None
    for context in store.get_contexts_by_execution(execution_id):
        if context.type == constants.PIPELINE_RUN_CONTEXT_TYPE_NAME:
            return context.name
    return None


@dataclasses.dataclass(frozen=True)
class PushedModel:
    """One pushed model and its lineage back to the data.

    Attributes:
      pushed_artifact: the Pusher's PushedModel artifact.
      pusher_execution_id: the execution that pushed it.
      model: the Model artifact pushed.
      trainer_execution_id: the execution that trained it, if known.
      examples: the Examples it was trained on, if known.
      evaluation: the Evaluator's output that blessed it, if known.
    """

    pushed_artifact: lineage.Artifact
    pusher_execution_id: int
    model: lineage.Artifact
    trainer_execution_id: Optional[int]
    examples: Optional[lineage.Artifact]
    evaluation: Optional[lineage.Artifact]

    @property
    def version(self) -> str:
        return str(lineage.custom_property(self.pushed_artifact,
                                           PUSHED_VERSION_PROPERTY))

    @property
    def destination(self) -> str:
        return lineage.custom_property(self.pushed_artifact,
                                       PUSHED_DESTINATION_PROPERTY)

    @property
    def serving_dir(self) -> str:
        """The serving directory it was pushed to (the version's parent)."""
        return self.destination.rstrip("/").rsplit("/", 1)[0]

    @property
    def restores(self) -> Optional[str]:
        """The version this one published again, if it is a rollback."""
        return lineage.custom_property(self.pushed_artifact,
                                       RESTORES_PROPERTY)


def pushed_models(store: MetadataStore, pipeline: str,
                  limit: Optional[int] = None) -> List[PushedModel]:
    """Every model the pipeline pushed (not the Pusher's no-ops), newest
    version first; at most `limit` (None: all)."""
    artifacts = _of_pipeline(
        store, pipeline, PUSHED_MODEL_TYPE,
        f"custom_properties.{PUSHED_PROPERTY}.int_value = 1")
    artifacts.sort(key=lambda a: int(lineage.custom_property(
        a, PUSHED_VERSION_PROPERTY) or 0), reverse=True)
    result = []
    for artifact in artifacts[:limit or None]:
        pusher = lineage.producer(store, artifact.id)
        if pusher is None:
            continue
        pusher_inputs = lineage.inputs(store, pusher)
        [model] = pusher_inputs[nodes.MODEL_KEY]
        trainer = lineage.producer(store, model.id)
        trained_on = (lineage.inputs(store, trainer).get(nodes.EXAMPLES_KEY)
                      if trainer is not None else None)
        evaluation = None
        blessings = pusher_inputs.get(nodes.MODEL_BLESSING_KEY)
        evaluator = (lineage.producer(store, blessings[0].id)
                     if blessings else None)
        if evaluator is not None:
            evaluations = lineage.outputs(store, evaluator).get(
                nodes.EVALUATION_KEY)
            evaluation = evaluations[0] if evaluations else None
        result.append(PushedModel(
            pushed_artifact=artifact, pusher_execution_id=pusher,
            model=model, trainer_execution_id=trainer,
            examples=trained_on[0] if trained_on else None,
            evaluation=evaluation))
    return result


def last_pushed(store: MetadataStore, pipeline: str
                ) -> Optional[PushedModel]:
    """The model pushed last: the one a server of the serving dir serves,
    unless the directory was changed by hand."""
    pushed = pushed_models(store, pipeline, limit=1)
    return pushed[0] if pushed else None


def pushed_time(store: MetadataStore, model: PushedModel
                ) -> datetime.datetime:
    [execution] = store.get_executions_by_id([model.pusher_execution_id])
    return lineage.timestamp(execution.last_update_time_since_epoch)


def record_rollback(store: MetadataStore, pipeline: str,
                    restored: PushedModel, version: str, destination: str,
                    replaces: str) -> int:
    """Records that `restored` was published again as `version`: an
    execution in the pipeline's context whose inputs are the restored
    push's model and blessing and whose output is a PushedModel, so that
    `pushed_models` (and `models`) list it with the model's lineage.
    Returns the execution's id."""
    context = store.get_context_by_type_and_name(
        constants.PIPELINE_CONTEXT_TYPE_NAME, pipeline)
    type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(
        name=ROLLBACK_TYPE))
    execution = metadata_store_pb2.Execution(
        type_id=type_id,
        last_known_state=metadata_store_pb2.Execution.COMPLETE)
    pushed = metadata_store_pb2.Artifact(
        type_id=store.get_artifact_type(PUSHED_MODEL_TYPE).id,
        uri=destination, state=metadata_store_pb2.Artifact.LIVE)
    for key, value in ((PUSHED_VERSION_PROPERTY, version),
                       (PUSHED_DESTINATION_PROPERTY, destination),
                       (RESTORES_PROPERTY, restored.version),
                       (REPLACES_PROPERTY, replaces)):
        pushed.custom_properties[key].string_value = value
    pushed.custom_properties[PUSHED_PROPERTY].int_value = 1

    def event(kind, key):
        return metadata_store_pb2.Event(
            type=kind, path=metadata_store_pb2.Event.Path(
                steps=[metadata_store_pb2.Event.Path.Step(key=key),
                       metadata_store_pb2.Event.Path.Step(index=0)]))

    restored_inputs = lineage.inputs(store, restored.pusher_execution_id)
    artifacts_and_events = [
        (restored.model, event(metadata_store_pb2.Event.INPUT,
                               nodes.MODEL_KEY))]
    for blessing in restored_inputs.get(nodes.MODEL_BLESSING_KEY, [])[:1]:
        artifacts_and_events.append((blessing, event(
            metadata_store_pb2.Event.INPUT, nodes.MODEL_BLESSING_KEY)))
    artifacts_and_events.append((pushed, event(
        metadata_store_pb2.Event.OUTPUT, nodes.PUSHED_MODEL_KEY)))
    execution_id, _, _ = store.put_execution(
        execution, artifacts_and_events, [context])
    return execution_id
