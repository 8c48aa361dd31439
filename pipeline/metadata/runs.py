"""Pipeline runs as ML Metadata records them, and what is decided from them.

TFX gives every run a `pipeline_run` context (a child of the `pipeline`
context) and every node a `node` context named `<pipeline>.<node id>`; an
execution belongs to one of each. A run is judged against the nodes of *its
own* pipeline, which `record_node_ids` writes into the compiled IR so that
TFX stores them on the run's context: a DAG that changes between runs
(warm start toggled, a component added by an upgrade) does not make older
or newer runs look incomplete. Runs recorded before that (no node ids on
their context) are judged against every node the pipeline ever had.

A run that the Kubeflow package started also records the fingerprint of the
compiled pipeline it ran (`record_pipeline_fingerprint`), so that a
scheduled run can tell "the same pipeline on the same data" and skip
(`decide_for_package`).
"""

import dataclasses
import datetime
import hashlib
import json
from typing import (Callable, Dict, FrozenSet, Iterator, List, Mapping,
                    Optional)

import ml_metadata as mlmd
from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import constants

from components.tfds_example_gen import manifest
from components.tfds_example_gen import properties as example_properties
from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata.store import MetadataStore

NODE_IDS_PROPERTY = "node_ids"
PIPELINE_FINGERPRINT_PROPERTY = "pipeline_fingerprint"
SUCCEEDED, FAILED, INCOMPLETE = "succeeded", "failed", "incomplete"
FINGERPRINT_PROPERTY = "data_fingerprint"

_Execution = metadata_store_pb2.Execution
# A node that executed or was found in the cache is done.
DONE_STATES = (_Execution.COMPLETE, _Execution.CACHED)
EXECUTED_STATE = _Execution.COMPLETE
CACHED_STATE = _Execution.CACHED
FAILED_STATE = _Execution.FAILED
STATE_WORDS = {_Execution.COMPLETE: "executed", _Execution.CACHED: "cached",
               _Execution.FAILED: "failed", _Execution.RUNNING: "running",
               _Execution.NEW: "new", _Execution.CANCELED: "canceled"}
# Run contexts loaded per batch of queries (an IN list in a filter query).
_BATCH = 100


@dataclasses.dataclass(frozen=True)
class Run:
    """One pipeline run.

    Attributes:
      run_id: the run id (the `pipeline_run` context's name).
      executions: node id -> the node's (latest) execution in the run.
      node_ids: the nodes of the pipeline this run ran.
      pipeline_fingerprint: the fingerprint of the compiled pipeline it
        ran, if recorded (see `record_pipeline_fingerprint`).
    """

    run_id: str
    executions: Mapping[str, metadata_store_pb2.Execution]
    node_ids: FrozenSet[str]
    pipeline_fingerprint: Optional[str] = None

    def state(self, node_id: str) -> Optional[int]:
        """The node's `Execution.State` in this run, or None if it did not
        start."""
        execution = self.executions.get(node_id)
        return execution.last_known_state if execution else None

    @property
    def states(self) -> Dict[str, str]:
        """Node id -> executed, cached, failed, running, new or canceled."""
        return {n: STATE_WORDS.get(e.last_known_state,
                                   str(e.last_known_state))
                for n, e in self.executions.items()}

    @property
    def status(self) -> str:
        """`failed` if a node failed; `succeeded` if every node of the
        run's pipeline executed or was cached; else `incomplete` (killed,
        or still running)."""
        states = {e.last_known_state for e in self.executions.values()}
        if _Execution.FAILED in states:
            return FAILED
        if self.node_ids <= set(self.executions) and states <= set(DONE_STATES):
            return SUCCEEDED
        return INCOMPLETE

    @property
    def fully_cached(self) -> bool:
        """Succeeded with every node but the resolvers cached."""
        return self.status == SUCCEEDED and all(
            e.last_known_state == _Execution.CACHED
            for n, e in self.executions.items() if n not in nodes.RESOLVERS)

    @property
    def started(self) -> datetime.datetime:
        return lineage.timestamp(min(e.create_time_since_epoch
                                     for e in self.executions.values()))

    @property
    def finished(self) -> datetime.datetime:
        return lineage.timestamp(max(e.last_update_time_since_epoch
                                     for e in self.executions.values()))


def _run_context_specs(ir):
    """Every node's `pipeline_run` context spec in a compiled IR: what TFX
    stores on the run's context, whichever node registers it first."""
    for node in ir.nodes:
        for spec in node.pipeline_node.contexts.contexts:
            if spec.type.name == constants.PIPELINE_RUN_CONTEXT_TYPE_NAME:
                yield spec


def record_node_ids(ir) -> None:
    """Writes the compiled pipeline's node ids onto its run context."""
    node_ids = json.dumps(sorted(n.pipeline_node.node_info.id
                                 for n in ir.nodes))
    for spec in _run_context_specs(ir):
        spec.properties[NODE_IDS_PROPERTY].field_value.string_value = node_ids


def pipeline_fingerprint(ir) -> str:
    """sha256 of a compiled pipeline as it runs (run-time parameters
    applied, the run id not yet), leaving out the fingerprint itself."""
    bare = type(ir)()
    bare.CopyFrom(ir)
    for spec in _run_context_specs(bare):
        spec.properties.pop(PIPELINE_FINGERPRINT_PROPERTY, None)
    return hashlib.sha256(bare.SerializeToString(deterministic=True)
                          ).hexdigest()


def record_pipeline_fingerprint(ir) -> str:
    """Writes `pipeline_fingerprint(ir)` onto the run context; returns it."""
    fingerprint = pipeline_fingerprint(ir)
    for spec in _run_context_specs(ir):
        spec.properties[PIPELINE_FINGERPRINT_PROPERTY].field_value \
            .string_value = fingerprint
    return fingerprint


def pipeline_names(store: MetadataStore) -> List[str]:
    """The pipelines the store has runs of."""
    return sorted(c.name for c in store.get_contexts_by_type(
        constants.PIPELINE_CONTEXT_TYPE_NAME))


def _run_contexts(store: MetadataStore, pipeline: str):
    """The pipeline's run contexts, newest first."""
    context = store.get_context_by_type_and_name(
        constants.PIPELINE_CONTEXT_TYPE_NAME, pipeline)
    if context is None:
        return []
    return sorted(store.get_children_contexts_by_context(context.id),
                  key=lambda c: c.id, reverse=True)


def _node_contexts(store: MetadataStore, pipeline: str) -> Dict[int, str]:
    """Node context id -> node id, for the pipeline's nodes."""
    prefix = f"{pipeline}."
    return {c.id: c.name[len(prefix):] for c in store.get_contexts_by_type(
        constants.NODE_CONTEXT_TYPE_NAME) if c.name.startswith(prefix)}


def _load(store: MetadataStore, run_contexts, node_contexts: Dict[int, str]
          ) -> List[Run]:
    """Runs from their contexts: one query per node context and one per
    run, whatever the size of the rest of the store."""
    run_ids = ",".join(str(c.id) for c in run_contexts)
    node_of: Dict[int, str] = {}
    for context_id, node_id in node_contexts.items():
        for execution in store.get_executions(list_options=mlmd.ListOptions(
                filter_query=f"contexts_a.id = {context_id} AND "
                             f"contexts_b.id IN ({run_ids})")):
            node_of[execution.id] = node_id
    every_node = frozenset(node_contexts.values())
    result = []
    for context in run_contexts:
        executions = {}
        for execution in sorted(store.get_executions_by_context(context.id),
                                key=lambda e: e.id):
            if execution.id in node_of:
                executions[node_of[execution.id]] = execution
        if not executions:
            continue
        recorded = lineage.custom_property(context, NODE_IDS_PROPERTY)
        result.append(Run(
            run_id=context.name, executions=executions,
            node_ids=(frozenset(json.loads(recorded)) if recorded
                      else every_node),
            pipeline_fingerprint=lineage.custom_property(
                context, PIPELINE_FINGERPRINT_PROPERTY)))
    return result


def iter_runs(store: MetadataStore, pipeline: str) -> Iterator[Run]:
    """The pipeline's runs, newest first, read in batches as consumed."""
    contexts = _run_contexts(store, pipeline)
    if not contexts:
        return
    node_contexts = _node_contexts(store, pipeline)
    for start in range(0, len(contexts), _BATCH):
        yield from _load(store, contexts[start:start + _BATCH],
                         node_contexts)


def runs(store: MetadataStore, pipeline: str,
         limit: Optional[int] = None) -> List[Run]:
    """The pipeline's runs, newest first; at most `limit` (None: all)."""
    result = []
    for run in iter_runs(store, pipeline):
        if limit and len(result) >= limit:
            break
        result.append(run)
    return result


def get_run(store: MetadataStore, pipeline: str, run_id: str
            ) -> Optional[Run]:
    """One run, by id, or None."""
    context = store.get_context_by_type_and_name(
        constants.PIPELINE_RUN_CONTEXT_TYPE_NAME, run_id)
    if context is None:
        return None
    loaded = _load(store, [context], _node_contexts(store, pipeline))
    return loaded[0] if loaded else None


def node_states(store: MetadataStore, pipeline: str,
                run_id: str) -> Dict[str, str]:
    """Node id -> the name of its execution's state in a run (COMPLETE,
    CACHED, FAILED, ...); {} for an unknown run."""
    run = get_run(store, pipeline, run_id)
    if run is None:
        return {}
    return {n: _Execution.State.Name(e.last_known_state)
            for n, e in run.executions.items()}


def node_execution(store: MetadataStore, pipeline: str, run_id: str,
                   node_id: str) -> Optional[metadata_store_pb2.Execution]:
    """The node's (latest) execution in a run, or None: one query, for
    reading a node's state while the run goes on."""
    if "'" in pipeline + run_id + node_id:
        run = get_run(store, pipeline, run_id)
        return run.executions.get(node_id) if run else None
    names = {constants.NODE_CONTEXT_TYPE_NAME: f"{pipeline}.{node_id}",
             constants.PIPELINE_RUN_CONTEXT_TYPE_NAME: run_id}
    query = " AND ".join(
        f"contexts_{alias}.type = '{kind}' AND contexts_{alias}.name = "
        f"'{name}'"
        for alias, (kind, name) in zip("ab", names.items()))
    found = store.get_executions(list_options=mlmd.ListOptions(
        filter_query=query))
    return max(found, key=lambda e: e.id) if found else None


def outputs(store: MetadataStore, run: Run, node_id: str
            ) -> Dict[str, List[lineage.Artifact]]:
    """The output artifacts, by key, of a node's execution in a run."""
    execution = run.executions.get(node_id)
    return lineage.outputs(store, execution.id) if execution else {}


def examples(store: MetadataStore, run: Run) -> Optional[lineage.Artifact]:
    """The Examples artifact the run's ExampleGen wrote (or found cached)."""
    found = outputs(store, run, nodes.EXAMPLE_GEN).get(nodes.EXAMPLES_KEY)
    return found[0] if found else None


def class_names(examples: Optional[lineage.Artifact]) -> List[str]:
    """The class names an Examples artifact recorded ([] if none)."""
    if examples is None:
        return []
    return example_properties.class_names(lineage.custom_property(
        examples, example_properties.CLASS_NAMES)) or []


def example_counts(examples: Optional[lineage.Artifact]) -> Dict[str, int]:
    """Split -> examples, as the ExampleGen recorded them ({} if not)."""
    recorded = lineage.custom_property(
        examples, example_properties.NUM_EXAMPLES) if examples else None
    if isinstance(recorded, str):  # a JSON string property
        recorded = json.loads(recorded)
    elif recorded is not None and not isinstance(recorded, dict):
        recorded = json_format.MessageToDict(recorded)  # a Struct
    return {split: int(count) for split, count in (recorded or {}).items()}


def last_successful(store: MetadataStore, pipeline: str
                    ) -> Optional[Run]:
    """The newest run that succeeded."""
    return next((r for r in iter_runs(store, pipeline)
                 if r.status == SUCCEEDED), None)


@dataclasses.dataclass(frozen=True)
class Decision:
    """Whether a scheduled run should go ahead, and why."""

    run: bool
    reason: str


def unchanged_since(store: MetadataStore, last: Optional[Run],
                    check: Callable[[Optional[str]], Optional[str]]
                    ) -> Optional[Decision]:
    """`schedule --once-if-changed`'s quick path: "no new data" if `check`,
    given the data manifest that `last` (the last successful run) recorded
    (see components/tfds_example_gen/manifest.py), says why the data is the
    same; None if it cannot tell, and the data must be fingerprinted."""
    ingested = examples(store, last) if last else None
    if ingested is None:
        return None
    reason = check(lineage.custom_property(ingested, manifest.PROPERTY))
    if reason is None:
        return None
    return Decision(False, (
        f"no new data ({reason}, as in the last successful run "
        f"{last.run_id}): not running."))


def dataset_unchanged_since(store: Optional[MetadataStore],
                            last: Optional[Run], dataset) -> Optional[Decision]:
    """`unchanged_since` for a pipeline's dataset settings (a
    `pipeline_config.DatasetConfig`): what `schedule --once-if-changed` and
    the local runner's quick re-run trust. None also without a store or a
    last successful run."""
    if store is None:
        return None
    return unchanged_since(store, last, manifest.checker(
        data_dir=dataset.data_dir, name=dataset.name, config=dataset.config,
        version=dataset.version, splits=dataset.splits))


def decide_on_data(store: Optional[MetadataStore], last: Optional[Run],
                   pipeline: str, fingerprint: str,
                   dataset: str) -> Decision:
    """What `schedule --once-if-changed` does: run unless the last run that
    succeeded ingested data with this fingerprint.

    Args:
      store: the output dir's store, or None if nothing has run there.
      last: the pipeline's last successful run (`last_successful`), if any.
      pipeline: the pipeline's name.
      fingerprint: the dataset's fingerprint now.
      dataset: the dataset's full name, for the message.
    """
    short = fingerprint[:12]
    if last is None:
        return Decision(True, (
            f"no successful run of {pipeline} yet ({dataset}, fingerprint "
            f"{short}): running."))
    ingested = examples(store, last)
    last_fingerprint = (lineage.custom_property(ingested,
                                                FINGERPRINT_PROPERTY)
                        if ingested else None)
    if last_fingerprint == fingerprint:
        return Decision(False, (
            f"no new data ({dataset}, fingerprint {short}, as in the last "
            f"successful run {last.run_id}): not running."))
    return Decision(True, (
        f"data changed ({dataset}, fingerprint {short}; the last successful "
        f"run {last.run_id} had "
        f"{last_fingerprint[:12] if last_fingerprint else 'none'}): "
        "running."))


def decide_for_package(store: MetadataStore, pipeline: str,
                       fingerprint: str,
                       check: Callable[[Optional[str]], Optional[str]]
                       ) -> Decision:
    """What a run of the Kubeflow package decides before its DAG: skip it
    only if the last successful run ran this same compiled pipeline and the
    data is certainly the same (`unchanged_since` with `check`); otherwise
    run it, and TFX's cache skips inside the DAG whatever is unchanged.

    Args:
      store: the pipeline's ML Metadata store.
      pipeline: the pipeline's name.
      fingerprint: `pipeline_fingerprint` of the pipeline about to run.
      check: as for `unchanged_since`.
    """
    short = fingerprint[:12]
    last = last_successful(store, pipeline)
    if last is None:
        return Decision(True, f"no successful run of {pipeline} yet: "
                              "running.")
    if last.pipeline_fingerprint != fingerprint:
        before = (last.pipeline_fingerprint or "")[:12] or "none recorded"
        return Decision(True, (
            f"the compiled pipeline changed (fingerprint {short}; the last "
            f"successful run {last.run_id} ran {before}): running."))
    quick = unchanged_since(store, last, check)
    if quick is None:
        return Decision(True, (
            "the data cannot be told unchanged without reading it (the "
            f"last successful run {last.run_id} ran the same pipeline, "
            f"{short}): running; ExampleGen fingerprints the data and "
            "TFX's cache skips what is unchanged."))
    return Decision(False, f"same compiled pipeline ({short}) and "
                           f"{quick.reason}")
