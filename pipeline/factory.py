"""What the pipeline is: the DAG of components, with no idea where it runs."""

import dataclasses
from typing import List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components import features
from components.evaluator import baseline
from components.evaluator import eval_config
from components.example_validator.component import StrictExampleValidator
from components.pusher.component import Pusher
from components.tfds_example_gen.component import TfdsExampleGen
from components.trainer.component import Trainer
from pipeline_config import PipelineConfig

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run.run_fn"
RESOLVER_ID = "latest_blessed_model_resolver"


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
) -> tfx.dsl.Pipeline:
    """Wires ExampleGen -> validation -> Transform -> Trainer -> Evaluator ->
    Pusher for `config`.

    Args:
      config: the validated pipeline settings.
      metadata_connection_config: the ML Metadata store; runner-specific.
      beam_pipeline_args: args for the components' Beam jobs; runner-specific.

    Returns:
      The TFX pipeline, caching enabled.
    """
    contract = features.contract_from_schema(
        features.load_schema(config.schema_file))
    dataset = config.dataset

    example_gen = TfdsExampleGen(
        dataset=dataset.tfds_name, splits=dataset.splits,
        data_dir=dataset.data_dir, manual_dir=dataset.manual_dir)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"])
    schema_importer = tfx.components.ImportSchemaGen(
        schema_file=config.schema_import_path)
    example_validator = StrictExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"]).with_id("ExampleValidator")

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"image_shape": list(contract.image_shape)},
        # The Trainer applies the Transform graph itself (see run.py), so
        # transformed examples and their statistics are not written.
        materialize=False,
        disable_statistics=True)
    # Anomalies must stop the run before any data is transformed.
    transform.add_upstream_node(example_validator)

    trainer = Trainer(
        run_fn=RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_importer.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=dataclasses.asdict(config.training))

    model_resolver = tfx.dsl.Resolver(
        strategy_class=baseline.LatestBlessedBeforeCandidateStrategy,
        **{
            baseline.MODEL_KEY: tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.Model),
            baseline.BLESSING_KEY: tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.ModelBlessing),
            baseline.CANDIDATE_KEY: trainer.outputs["model"],
        }).with_id(RESOLVER_ID)

    evaluation = config.evaluation
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs[baseline.MODEL_KEY],
        example_splits=["eval"],
        eval_config=eval_config.build_eval_config(
            min_accuracy=evaluation.min_accuracy,
            max_accuracy_drop=evaluation.max_accuracy_drop,
            max_class_accuracy_drop=evaluation.max_class_accuracy_drop))

    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.serving_dir)))

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_importer,
                    example_validator, transform, trainer, model_resolver,
                    evaluator, pusher],
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)
