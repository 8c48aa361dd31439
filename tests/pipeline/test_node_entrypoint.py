"""The per-node entrypoint Kubeflow tasks run."""

import json
import sys

import pytest

from pipeline import factory
from pipeline import node_entrypoint
from tests.pipeline import helpers


def test_grpc_url():
    config = node_entrypoint.connection_config(
        "grpc://metadata-grpc-service.kubeflow:8080")
    assert config.host == "metadata-grpc-service.kubeflow"
    assert config.port == 8080


def test_mysql_url_with_password_from_env(monkeypatch):
    monkeypatch.setenv(node_entrypoint.MYSQL_PASSWORD_ENV, "s3cret")
    config = node_entrypoint.connection_config("mysql://mlmd@db:3307/metadb")
    assert (config.mysql.host, config.mysql.port, config.mysql.database,
            config.mysql.user, config.mysql.password) == (
                "db", 3307, "metadb", "mlmd", "s3cret")
    inline = node_entrypoint.connection_config(
        "mysql://u:p%40ss@db/metadb")
    assert inline.mysql.password == "p@ss" and inline.mysql.port == 3306


@pytest.mark.parametrize("url,words", [
    ("http://host:80", "is not grpc://host:port"),
    ("grpc://host", "needs a host and port"),
    ("mysql://user@host:3306/", "needs a host and a database"),
])
def test_bad_urls_are_named(url, words):
    with pytest.raises(node_entrypoint.MetadataUrlError, match=words):
        node_entrypoint.connection_config(url)


def test_passwords_are_redacted_from_messages():
    assert node_entrypoint.redacted("mysql://u:s3cret@db:3306/m") == \
        "mysql://u:***@db:3306/m"
    assert node_entrypoint.redacted("grpc://h:8080") == "grpc://h:8080"


def _ir(tmp_path):
    from tfx.dsl.compiler import compiler  # pylint: disable=import-outside-toplevel
    config = helpers.tiny_config(tmp_path, str(tmp_path / "tfds"))
    return compiler.Compiler().compile(factory.create_pipeline(config))


def test_ir_round_trip(tmp_path):
    ir = _ir(tmp_path)
    text = node_entrypoint.encode_ir(ir)
    assert node_entrypoint.decode_ir(text) == ir
    assert len(text) < len(ir.SerializeToString())


def test_run_parameters_change_epochs_and_version(tmp_path):
    ir = _ir(tmp_path)
    node_entrypoint.set_run_parameters(ir, epochs=7, dataset_version="2.0.0")
    nodes = {n.pipeline_node.node_info.id: n.pipeline_node.parameters
             .parameters for n in ir.nodes}
    custom = json.loads(
        nodes["Trainer"]["custom_config"].field_value.string_value)
    assert custom["epochs"] == 7 and custom["batch_size_per_replica"] == 64
    assert nodes["TfdsExampleGen"]["dataset"].field_value.string_value == \
        "tiny_images/clean:2.0.0"


def _run_every_node(ir_text, run_id, metadata_url, node_ids):
    for node_id in node_ids:
        result = helpers.run_cli(
            [sys.executable, "-m", "pipeline.node_entrypoint",
             "--pipeline-ir", ir_text, "--node-id", node_id,
             "--run-id", run_id, "--metadata", metadata_url])
        assert result.returncode == 0, (node_id, result.stderr[-3000:])


@pytest.mark.slow
def test_every_node_in_its_own_process_shares_metadata(tmp_path,
                                                       tfds_data_dir):
    """What a Kubeflow run does, on this machine: one process per node, in
    DAG order, all against one ML Metadata store; then a cached re-run."""
    from ml_metadata import metadata_store  # pylint: disable=import-outside-toplevel
    from ml_metadata.proto import metadata_store_pb2  # pylint: disable=import-outside-toplevel
    from tfx.dsl.compiler import compiler  # pylint: disable=import-outside-toplevel
    from pipeline import summary  # pylint: disable=import-outside-toplevel

    config = helpers.tiny_config(tmp_path / "out", tfds_data_dir)
    ir = compiler.Compiler().compile(factory.create_pipeline(
        config, beam_pipeline_args=config.beam.pipeline_args))
    node_ids = [n.pipeline_node.node_info.id for n in ir.nodes]
    url = f"sqlite://{tmp_path / 'metadata.sqlite'}"
    text = node_entrypoint.encode_ir(ir)
    _run_every_node(text, "run-1", url, node_ids)
    _run_every_node(text, "run-2", url, node_ids)

    store = metadata_store.MetadataStore(
        node_entrypoint.connection_config(url))
    pushed = summary.node_outputs(store, config.name, "run-1", "Pusher")
    destination = pushed["pushed_model"][0].custom_properties[
        "pushed_destination"].string_value
    helpers.check_signatures(destination)
    states = {}
    for run_id in ("run-1", "run-2"):
        run = store.get_context_by_type_and_name("pipeline_run", run_id)
        states[run_id] = sorted(
            e.last_known_state for e in store.get_executions_by_context(
                run.id))
    complete = metadata_store_pb2.Execution.COMPLETE
    cached = metadata_store_pb2.Execution.CACHED
    assert states["run-1"].count(complete) == len(node_ids)
    # Every component is cached on the re-run; the resolver resolves anew.
    assert states["run-2"].count(cached) == len(node_ids) - 1
    assert helpers.serving_versions(config.serving_dir) == [
        destination.rsplit("/", 1)[1]]
