"""Lineage: which artifacts an execution read and wrote, by key, and which
execution produced an artifact.

An event's path names the input or output key. TFX's own helpers for this
(`tfx.orchestration.portable.mlmd.event_lib` and `execution_lib`) import
TensorFlow, which the history commands must not, so the few lines that read
events live here, once.
"""

import datetime
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from pipeline.metadata.store import MetadataStore

Artifact = metadata_store_pb2.Artifact
_Event = metadata_store_pb2.Event
OUTPUT_EVENTS = (_Event.OUTPUT, _Event.DECLARED_OUTPUT)
INPUT_EVENTS = (_Event.INPUT, _Event.DECLARED_INPUT)


def _by_key(store: MetadataStore, execution_id: int,
            kinds) -> Dict[str, List[Artifact]]:
    events = [e for e in store.get_events_by_execution_ids([execution_id])
              if e.type in kinds and e.path.steps]
    if not events:
        return {}
    artifacts = {a.id: a for a in store.get_artifacts_by_id(
        [e.artifact_id for e in events])}
    result: Dict[str, List[Artifact]] = {}
    for event in sorted(events, key=lambda e: (e.path.steps[0].key,
                                               e.artifact_id)):
        result.setdefault(event.path.steps[0].key, []).append(
            artifacts[event.artifact_id])
    return result


def outputs(store: MetadataStore, execution_id: int
            ) -> Dict[str, List[Artifact]]:
    """An execution's output artifacts, by output key."""
    return _by_key(store, execution_id, OUTPUT_EVENTS)


def inputs(store: MetadataStore, execution_id: int
           ) -> Dict[str, List[Artifact]]:
    """An execution's input artifacts, by input key."""
    return _by_key(store, execution_id, INPUT_EVENTS)


def producer(store: MetadataStore, artifact_id: int) -> Optional[int]:
    """The id of the execution that wrote an artifact, if any."""
    for event in store.get_events_by_artifact_ids([artifact_id]):
        if event.type in OUTPUT_EVENTS:
            return event.execution_id
    return None


def custom_property(artifact, key: str):
    """A custom property's value (int, float or string), or None. Works on
    MLMD protos and on TFX artifacts' `mlmd_artifact`."""
    value = artifact.custom_properties.get(key)
    if value is None:
        return None
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


def timestamp(milliseconds: int) -> datetime.datetime:
    """An ML Metadata time (milliseconds since the epoch), in UTC."""
    return datetime.datetime.fromtimestamp(milliseconds / 1000,
                                           datetime.timezone.utc)
