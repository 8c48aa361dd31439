"""What the factory hands each component."""

import dataclasses
import json

from tfx.dsl.compiler import compiler

import pipeline_config as pc
from components.trainer import settings as trainer_settings
from pipeline import factory
from pipeline import nodes
from tests.components.trainer.test_settings import CHANGED
from tests.conftest import SCHEMA


def test_every_training_setting_reaches_the_trainer_as_configured(tmp_path):
    config = pc.PipelineConfig(output_dir=str(tmp_path), schema_path=SCHEMA,
                               training=CHANGED)
    ir = compiler.Compiler().compile(factory.create_pipeline(config))
    [trainer] = [n.pipeline_node for n in ir.nodes
                 if n.pipeline_node.node_info.id == nodes.TRAINER]
    custom_config = json.loads(trainer.parameters.parameters["custom_config"]
                               .field_value.string_value)
    assert trainer_settings.read(custom_config) == \
        trainer_settings.TrainerSettings(**dataclasses.asdict(CHANGED),
                                         example_counts=None)


def _caching(ir):
    return {n.pipeline_node.node_info.id:
            n.pipeline_node.execution_options.caching_options.enable_cache
            for n in ir.nodes}


def test_an_example_gen_without_its_driver_is_never_cached(tmp_path):
    config = pc.PipelineConfig(output_dir=str(tmp_path), schema_path=SCHEMA)
    usual = factory.create_pipeline(config)
    assert factory.uncached_nodes(usual) == ()
    assert all(_caching(factory.compile_ir(usual)).values())
    driverless = factory.create_pipeline(config, orchestration=(
        factory.Orchestration(custom_resolvers=False, custom_drivers=False)))
    assert factory.uncached_nodes(driverless) == (nodes.EXAMPLE_GEN,)
    caching = _caching(factory.compile_ir(driverless))
    assert caching.pop(nodes.EXAMPLE_GEN) is False
    assert all(caching.values())
