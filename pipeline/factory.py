"""What the pipeline is: the DAG of components, with no idea where it runs."""

import dataclasses
from typing import Any, List, Mapping, Optional, Tuple, Type

from ml_metadata.proto import metadata_store_pb2
# TFX's modules, not `tfx.v1`: the public API module also imports every
# extension (Vertex AI's client library among them), seconds of every
# run's start-up (docs/performance.md).
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.transform.component import Transform
from tfx.dsl.compiler import compiler
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types.channel import Channel
from tfx.types.standard_artifacts import Model, ModelBlessing

from components import features
from components.evaluator import eval_config
from components.evaluator.component import Evaluator
from components.example_validator.component import StrictExampleValidator
from components.pusher.component import Pusher
from components.schema_importer.component import ImportSchemaGen
from components.serving_validator.component import ServingValidator
from components.tfds_example_gen.component import TfdsExampleGen
from components.trainer import settings as trainer_settings
from components.trainer.component import Trainer
from pipeline import nodes
from pipeline.metadata import resolvers
from pipeline.metadata import runs
from pipeline_config import PipelineConfig

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run.run_fn"


@dataclasses.dataclass(frozen=True)
class Orchestration:
    """What a runner needs done differently; the defaults suit the runners
    that run TFX's own Launcher (local, Beam, Kubeflow).

    Attributes:
      trainer_class: the Trainer component (e.g. one that runs as a managed
        training job), with this project's `run_fn`.
      trainer_config: extra `custom_config` for it, next to the training
        settings (e.g. a worker pool spec).
      tpu: the TPU the Trainer's `run_fn` should use, if any.
      custom_resolvers: whether the orchestrator runs custom resolver
        strategies. Without them the baseline comes from TFX's
        LatestBlessedModelStrategy and warm start is unavailable.
      custom_drivers: whether the orchestrator runs custom drivers.
        ExampleGen's driver puts the data's fingerprint into its cache key;
        without it, a cached ExampleGen would hide new data, so ExampleGen
        is built without it and never taken from the cache
        (`uncached_nodes`): every run reads the data and trains.
    """

    trainer_class: Type[Any] = Trainer
    trainer_config: Mapping[str, Any] = dataclasses.field(
        default_factory=dict)
    tpu: Optional[str] = None
    custom_resolvers: bool = True
    custom_drivers: bool = True


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    orchestration: Orchestration = Orchestration(),
) -> Pipeline:
    """Wires ExampleGen -> validation -> Transform -> Trainer -> Evaluator ->
    ServingValidator -> Pusher for `config`.

    Args:
      config: the validated pipeline settings.
      metadata_connection_config: the ML Metadata store; runner-specific.
      beam_pipeline_args: args for the components' Beam jobs; runner-specific.
      orchestration: what the runner needs done differently.

    Returns:
      The TFX pipeline, caching enabled (but for its `uncached_nodes`,
      which the compiling runner turns off: `compile_ir` here, the Vertex
      runner in its job).
    """
    contract = features.load_contract(config.schema_file)
    dataset = config.dataset

    example_gen = TfdsExampleGen(
        dataset=dataset.tfds_name, splits=dataset.splits,
        data_dir=dataset.data_dir, manual_dir=dataset.manual_dir,
        fingerprint_driver=orchestration.custom_drivers
    ).with_id(nodes.EXAMPLE_GEN)
    schema_importer = ImportSchemaGen(
        schema_file=config.schema_import_path).with_id(nodes.SCHEMA_IMPORTER)
    # With the schema, TFDV computes what each feature's domain calls for.
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"]
    ).with_id(nodes.STATISTICS_GEN)
    example_validator = StrictExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"]
    ).with_id(nodes.EXAMPLE_VALIDATOR)

    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"image_shape": list(contract.image_shape)},
        # The Trainer applies the Transform graph itself (see run.py), so
        # transformed examples and their statistics are not written.
        materialize=False,
        disable_statistics=True).with_id(nodes.TRANSFORM)

    warm_start = None
    if config.training.warm_start:
        if not orchestration.custom_resolvers:
            raise ValueError("warm start needs custom resolver strategies, "
                             "which this orchestrator does not run.")
        warm_start = Resolver(
            strategy_class=resolvers.WarmStartModelStrategy,
            **{resolvers.MODEL_KEY: Channel(type=Model),
               resolvers.BLESSING_KEY: Channel(type=ModelBlessing),
               resolvers.EXAMPLES_KEY: example_gen.outputs["examples"]}
        ).with_id(nodes.WARM_START_RESOLVER)

    training = trainer_settings.TrainerSettings(
        **dataclasses.asdict(dataclasses.replace(
            config.training, tpu=orchestration.tpu or config.training.tpu)),
        example_counts=None)
    trainer = orchestration.trainer_class(
        run_fn=RUN_FN,
        base_model=(warm_start.outputs[resolvers.MODEL_KEY]
                    if warm_start else None),
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_importer.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config=trainer_settings.write(training,
                                             orchestration.trainer_config)
    ).with_id(nodes.TRAINER)
    model_resolver = _baseline_resolver(trainer,
                                        orchestration.custom_resolvers)

    evaluation = config.evaluation
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        # The candidate passes through the baseline resolver, so that a
        # resolver that fails (TFX then carries on with the DAG) leaves the
        # Evaluator without its model instead of without its baseline: no
        # model is ever blessed unless it was compared with the last one.
        model=(model_resolver.outputs[resolvers.CANDIDATE_KEY]
               if orchestration.custom_resolvers
               else trainer.outputs["model"]),
        baseline_model=model_resolver.outputs[resolvers.MODEL_KEY],
        example_splits=["eval"],
        eval_config=eval_config.build_eval_config(
            min_accuracy=evaluation.min_accuracy,
            max_accuracy_drop=evaluation.max_accuracy_drop,
            max_class_accuracy_drop=evaluation.max_class_accuracy_drop,
            num_classes=contract.num_classes)
    ).with_id(nodes.EVALUATOR)
    # No model trained on data with anomalies is evaluated, blessed or
    # pushed; Transform and the Trainer need not wait for the validation.
    evaluator.add_upstream_node(example_validator)

    # Only a model that a fresh TensorFlow process loads and that answers
    # right through both signatures is pushed (with its warm-up file).
    serving_validator = ServingValidator(
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        model_blessing=evaluator.outputs["blessing"],
        evaluation=evaluator.outputs["evaluation"],
        model_run=trainer.outputs["model_run"]
    ).with_id(nodes.SERVING_VALIDATOR)

    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=serving_validator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(
                base_directory=config.serving_dir))
    ).with_id(nodes.PUSHER)

    return Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_importer,
                    example_validator, transform,
                    *([warm_start] if warm_start else []), trainer,
                    model_resolver, evaluator, serving_validator, pusher],
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)


def _baseline_resolver(trainer, custom_resolvers: bool):
    """The last blessed model, the Evaluator's baseline."""
    models = Channel(type=Model)
    blessings = Channel(type=ModelBlessing)
    if not custom_resolvers:
        # A re-run on unchanged data then re-blesses the same model; the
        # Pusher stops it from being pushed again (pusher/executor.py).
        return Resolver(
            strategy_class=LatestBlessedModelStrategy,
            **{resolvers.MODEL_KEY: models,
               resolvers.BLESSING_KEY: blessings}
        ).with_id(nodes.BASELINE_RESOLVER)
    return Resolver(
        strategy_class=resolvers.LatestBlessedBeforeCandidateStrategy,
        **{resolvers.MODEL_KEY: models, resolvers.BLESSING_KEY: blessings,
           resolvers.CANDIDATE_KEY: trainer.outputs["model"]}
    ).with_id(nodes.BASELINE_RESOLVER)


def uncached_nodes(tfx_pipeline: Pipeline) -> Tuple[str, ...]:
    """The nodes that must run in every run: an ExampleGen built without
    the driver that puts the data's fingerprint in its cache key (see
    `Orchestration.custom_drivers`). Read from the pipeline itself, so a
    runner cannot compile a driverless ExampleGen cached."""
    return tuple(component.id for component in tfx_pipeline.components
                 if isinstance(component, TfdsExampleGen)
                 and not component.fingerprints_data)


def compile_ir(tfx_pipeline: Pipeline):
    """TFX's compiled IR of a pipeline, as the runners that run TFX's
    Launcher (local, Beam, Kubeflow) run it: each run's context in ML
    Metadata records the run's own nodes and the pipeline's fingerprint
    (see `metadata.runs`), and `uncached_nodes` never use the cache.
    (TFX's DSL sets caching for a whole pipeline only.)"""
    ir = compiler.Compiler().compile(tfx_pipeline)
    uncached = uncached_nodes(tfx_pipeline)
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in uncached:
            node.pipeline_node.execution_options.caching_options \
                .enable_cache = False
    runs.record_node_ids(ir)
    runs.record_pipeline_fingerprint(ir)
    return ir
