"""The node ids and output keys in pipeline/nodes.py are the DAG's."""

from tfx.dsl.compiler import compiler
from tfx.types import standard_component_specs as specs

import pipeline_config as pc
from pipeline import factory
from pipeline import nodes
from tests.conftest import SCHEMA


def _node_ids(config):
    ir = compiler.Compiler().compile(factory.create_pipeline(config))
    return {n.pipeline_node.node_info.id for n in ir.nodes}


def test_node_ids_are_the_dags(tmp_path):
    config = pc.PipelineConfig(output_dir=str(tmp_path), schema_path=SCHEMA)
    assert _node_ids(config) == {
        nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.SCHEMA_IMPORTER,
        nodes.EXAMPLE_VALIDATOR, nodes.TRANSFORM, nodes.TRAINER,
        nodes.BASELINE_RESOLVER, nodes.EVALUATOR, nodes.SERVING_VALIDATOR,
        nodes.PUSHER}
    warm = pc.PipelineConfig(output_dir=str(tmp_path), schema_path=SCHEMA,
                             training=pc.TrainingConfig(warm_start=True))
    assert _node_ids(warm) - _node_ids(config) == {
        nodes.WARM_START_RESOLVER}


def test_output_keys_are_tfxs():
    assert nodes.EXAMPLES_KEY == specs.EXAMPLES_KEY
    assert nodes.STATISTICS_KEY == specs.STATISTICS_KEY
    assert nodes.MODEL_KEY == specs.MODEL_KEY
    assert nodes.MODEL_RUN_KEY == specs.MODEL_RUN_KEY
    assert nodes.EVALUATION_KEY == specs.EVALUATION_KEY
    assert nodes.BLESSING_KEY == specs.BLESSING_KEY
    assert nodes.MODEL_BLESSING_KEY == specs.MODEL_BLESSING_KEY
    assert nodes.PUSHED_MODEL_KEY == specs.PUSHED_MODEL_KEY
    assert nodes.INFRA_BLESSING_KEY == specs.INFRA_BLESSING_KEY
