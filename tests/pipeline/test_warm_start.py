"""Warm start: new data fine-tunes the last blessed model; unchanged data
stays cached."""

import dataclasses

import pytest

import pipeline_config as pc
from pipeline import nodes
from pipeline.runners import local as local_runner
from tests import growing_dataset
from tests.conftest import SCHEMA
from tests.pipeline import helpers


@pytest.mark.slow
def test_new_data_starts_from_the_last_blessed_model(tmp_path):
    data_dir = str(tmp_path / "tfds")
    growing_dataset.release(data_dir, "1.0.0")
    config = pc.PipelineConfig(
        output_dir=str(tmp_path / "out"), schema_path=SCHEMA,
        dataset=pc.DatasetConfig(name=growing_dataset.NAME,
                                 data_dir=data_dir),
        training=pc.TrainingConfig(epochs=2, warm_start=True))
    first = local_runner.run(config, "local")
    assert first["blessed"] and first["pushed_model"]
    again = local_runner.run(config, "local")
    assert {n: again["components"][n]["status"] for n in helpers.CACHEABLE} \
        == {n: "cached" for n in helpers.CACHEABLE}

    growing_dataset.release(data_dir, "2.0.0")
    third = local_runner.run(config, "local")
    assert third["components"][nodes.TRAINER]["status"] == "executed"
    records = helpers.training_records(config.output_dir)
    assert len(records) == 2
    assert records[0]["warm_start"] == {"from": None}
    base = records[1]["warm_start"]["from"]
    assert base and "failed" not in records[1]["warm_start"]
    # It started from the first model: the one the first run pushed.
    model_dir = base.split("/keras_weights")[0]
    assert helpers.same_model(model_dir, first["pushed_model"])
    # A model that already knows the task starts far lower than one from
    # scratch did.
    assert records[1]["history"]["loss"][0] < \
        0.5 * records[0]["history"]["loss"][0]
    assert third["blessed"] and third["pushed_model"]


def test_warm_start_is_refused_for_vertex(tmp_path):
    from pipeline.runners import vertex as vertex_runner  # pylint: disable=import-outside-toplevel
    config = dataclasses.replace(
        helpers.tiny_config(tmp_path, str(tmp_path / "tfds"),
                            warm_start=True), remote_root="gs://b/r")
    with pytest.raises(pc.ConfigError, match="--warm-start is not available"):
        vertex_runner.compile_job(config, pc.VertexConfig(image="img:1"),
                                  str(tmp_path / "job.json"))
