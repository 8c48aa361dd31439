"""Pipeline runs recorded in an in-memory ML Metadata store (ML Metadata's
fake database), the way TFX's Launcher records them: the real compiled IR's
contexts (so each run's own node set), executions registered and published
with TFX's own helpers, output artifacts with the properties our components
write. No component runs; a test says what each node did.
"""

import dataclasses
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.portable import execution_publish_utils
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.orchestration.portable.mlmd import context_lib
from tfx.orchestration.portable.mlmd import execution_lib
from tfx.types import artifact_utils

import pipeline_config as pc
from components.evaluator import metrics as evaluator_metrics
from pipeline import factory
from pipeline import nodes
from pipeline.metadata import models
from tests.conftest import SCHEMA

EXECUTED, CACHED, FAILED, KILLED = "executed", "cached", "failed", "killed"
PIPELINE = "fake-pipeline"


@dataclasses.dataclass
class Outcome:
    """What one run's nodes did. Nodes after a failed or killed one do not
    start. `cached` reuses the outputs of the node's previous execution."""
    default: str = EXECUTED
    by_node: Dict[str, str] = dataclasses.field(default_factory=dict)
    fingerprint: str = "f" * 64
    accuracy: float = 0.9
    blessed: bool = True
    pushed: bool = True
    # No accuracy on the evaluation artifact: one written before the
    # Evaluator recorded it (reading it needs TFMA's files).
    legacy_evaluation: bool = False
    # The data manifest ExampleGen records (manifest.PROPERTY), if any.
    data_files: Optional[str] = None


class FakeStore:
    """An in-memory store and the runs recorded in it."""

    def __init__(self, tmp_path, pipeline_name: str = PIPELINE,
                 sqlite_path: Optional[str] = None):
        config = metadata_store_pb2.ConnectionConfig()
        if sqlite_path:  # For a test that reads it from another process.
            config.sqlite.filename_uri = sqlite_path
        else:
            config.fake_database.SetInParent()
        self._handle = metadata.Metadata(config)
        self._handle.__enter__()
        self.store = self._handle.store
        self.pipeline_name = pipeline_name
        self._tmp = tmp_path
        self._last_outputs: Dict[str, Dict[str, List]] = {}
        self._version = 1000
        self._compiled = {}

    @property
    def last_pushed_version(self) -> str:
        """The version the last pushing run recorded."""
        return str(self._version)

    def close(self):
        self._handle.__exit__(None, None, None)

    def compiled(self, warm_start: bool = False):
        """A copy of the compiled pipeline the runs run (no run id yet)."""
        if warm_start not in self._compiled:
            config = pc.PipelineConfig(
                output_dir=str(self._tmp / "out"), schema_path=SCHEMA,
                pipeline_name=self.pipeline_name,
                training=pc.TrainingConfig(warm_start=warm_start))
            self._compiled[warm_start] = factory.compile_ir(
                factory.create_pipeline(config))
        ir = type(self._compiled[warm_start])()
        ir.CopyFrom(self._compiled[warm_start])
        return ir

    def _ir(self, run_id: str, warm_start: bool):
        ir = self.compiled(warm_start)
        runtime_parameter_utils.substitute_runtime_parameter(
            ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
        return ir

    def run(self, run_id: str, outcome: Optional[Outcome] = None,
            warm_start: bool = False) -> Dict[str, Dict[str, List]]:
        """Records one run; returns each node's output artifacts."""
        outcome = outcome or Outcome()
        produced: Dict[str, Dict[str, List]] = {}
        for node in self._ir(run_id, warm_start).nodes:
            node = node.pipeline_node
            node_id = node.node_info.id
            what = outcome.by_node.get(node_id, outcome.default)
            contexts = context_lib.prepare_contexts(self._handle,
                                                    node.contexts)
            execution = execution_publish_utils.register_execution(
                self._handle, node.node_info.type, contexts,
                input_artifacts=self._inputs(node_id, produced))
            if what == KILLED:
                break
            if what == FAILED:
                execution_publish_utils.publish_failed_execution(
                    self._handle, contexts, execution.id)
                break
            if what == CACHED:
                outputs = self._last_outputs[node_id]
                execution_publish_utils.publish_cached_executions(
                    self._handle, contexts, [execution], [outputs])
            else:
                execution_publish_utils.publish_succeeded_execution(
                    self._handle, execution.id, contexts,
                    self._outputs(node, produced, outcome))
                # As published, with their ids (inputs of later nodes).
                outputs = execution_lib.get_output_artifacts(
                    self._handle, execution.id)
            produced[node_id] = outputs
            self._last_outputs[node_id] = outputs
        return produced

    @staticmethod
    def _inputs(node_id, produced):
        """The inputs whose lineage the product reads."""
        if node_id == nodes.TRAINER and nodes.EXAMPLE_GEN in produced:
            return {nodes.EXAMPLES_KEY: produced[nodes.EXAMPLE_GEN][
                nodes.EXAMPLES_KEY]}
        if node_id == nodes.PUSHER and nodes.EVALUATOR in produced:
            return {nodes.MODEL_KEY: produced[nodes.TRAINER][nodes.MODEL_KEY],
                    nodes.MODEL_BLESSING_KEY: produced[nodes.EVALUATOR][
                        nodes.BLESSING_KEY]}
        return {}

    def _outputs(self, node, produced, outcome: Outcome):
        node_id = node.node_info.id
        outputs = {}
        if node_id in nodes.RESOLVERS:
            return outputs  # A resolver passes on existing artifacts.
        for key, spec in node.outputs.outputs.items():
            artifact = artifact_utils.deserialize_artifact(
                spec.artifact_spec.type)
            artifact.uri = str(self._tmp / node_id / key / str(
                len(self._last_outputs)))
            outputs[key] = [artifact]
        if node_id == nodes.EXAMPLE_GEN:
            examples = outputs[nodes.EXAMPLES_KEY][0]
            examples.set_string_custom_property("tfds_name", "tiny_images")
            examples.set_string_custom_property("tfds_version", "1.0.0")
            examples.set_string_custom_property("data_fingerprint",
                                                outcome.fingerprint)
            if outcome.data_files:
                examples.set_string_custom_property("data_files",
                                                    outcome.data_files)
        elif node_id == nodes.EVALUATOR:
            evaluation = outputs[nodes.EVALUATION_KEY][0]
            if not outcome.legacy_evaluation:
                evaluator_metrics.record(evaluation, {
                    "accuracy": outcome.accuracy, "example_count": 120})
            blessing = outputs[nodes.BLESSING_KEY][0]
            blessing.set_int_custom_property(models.BLESSED_PROPERTY,
                                             int(outcome.blessed))
            model = produced[nodes.TRAINER][nodes.MODEL_KEY][0]
            blessing.set_int_custom_property(
                models.CURRENT_MODEL_ID_PROPERTY, model.id)
        elif node_id == nodes.PUSHER:
            pushed = outputs[nodes.PUSHED_MODEL_KEY][0]
            blessed = outcome.blessed and outcome.pushed
            pushed.set_int_custom_property(models.PUSHED_PROPERTY,
                                           int(blessed))
            if blessed:
                self._version += 1
                pushed.set_string_custom_property(
                    models.PUSHED_VERSION_PROPERTY, str(self._version))
                pushed.set_string_custom_property(
                    models.PUSHED_DESTINATION_PROPERTY,
                    str(self._tmp / "serving" / str(self._version)))
        return outputs
