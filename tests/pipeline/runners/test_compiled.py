"""The compiled pipeline the local runner keeps, and its key."""

import dataclasses
import logging

from tfx.proto.orchestration import pipeline_pb2

from pipeline.runners import compiled
from tests.pipeline import helpers


def _ir(name="p"):
    ir = pipeline_pb2.Pipeline()
    ir.pipeline_info.id = name
    ir.nodes.add().pipeline_node.node_info.id = "A"
    return ir


def test_the_key_follows_settings_runner_beam_args_schema_and_code(
        tmp_path, monkeypatch):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("feature { name: 'image' }")
    config = dataclasses.replace(helpers.tiny_config(tmp_path / "out",
                                                     str(tmp_path)),
                                 schema_path=str(schema))
    key = compiled.key(config, "local", ["--runner=DirectRunner"])
    assert key == compiled.key(config, "local", ["--runner=DirectRunner"])
    assert key != compiled.key(helpers.tiny_config(
        tmp_path / "out", str(tmp_path), seed=7), "local",
        ["--runner=DirectRunner"])
    assert key != compiled.key(config, "beam", ["--runner=DirectRunner"])
    assert key != compiled.key(config, "local", ["--direct_num_workers=2"])
    schema.write_text("feature { name: 'label' }")
    changed_schema = compiled.key(config, "local", ["--runner=DirectRunner"])
    assert changed_schema != key
    code = tmp_path / "module.py"
    code.write_text("x = 1")
    sources = list(compiled._source_files())  # pylint: disable=protected-access
    assert any(s.endswith("pipeline/factory.py") for s in sources)
    monkeypatch.setattr(compiled, "_source_files",
                        lambda: [*sources, str(code)])
    with_module = compiled.key(config, "local", ["--runner=DirectRunner"])
    code.write_text("x = 2")
    assert compiled.key(config, "local", ["--runner=DirectRunner"]) \
        not in (with_module, changed_schema)


def test_kept_under_one_key_and_found_only_with_it(tmp_path, caplog):
    config = helpers.tiny_config(tmp_path / "out", str(tmp_path))
    assert compiled.load(config, "k1") is None
    compiled.save(config, "k1", _ir("first"))
    assert compiled.load(config, "k1").pipeline_info.id == "first"
    assert compiled.load(config, "k2") is None
    compiled.save(config, "k2", _ir("second"))
    assert compiled.load(config, "k1") is None
    assert compiled.load(config, "k2").pipeline_info.id == "second"
    with open(config.compiled_pipeline_path, "r+b") as f:
        f.seek(-3, 2)
        f.write(b"\xff\xff\xff")
    with caplog.at_level(logging.WARNING):
        assert compiled.load(config, "k2") is None
    assert "compiling it again" in caplog.text
