"""Runs one node of a compiled TFX pipeline: what every Kubeflow task runs.

  python -m pipeline.node_entrypoint --pipeline-ir IR --node-id Trainer \
      --run-id RUN --metadata grpc://metadata-grpc-service.kubeflow:8080

It does for one node what TFX's LocalDagRunner does for each node in turn:
TFX's portable `Launcher` resolves the node's inputs from ML Metadata, runs
its driver, looks for a cached execution, runs the executor and publishes the
outputs. All tasks of a run share the run id and the ML Metadata store, so
resolvers, caching and lineage behave exactly as locally. TFX 1.16's own
`tfx.orchestration.kubeflow.container_entrypoint` does not import (its wheel
lacks `tfx.orchestration.kubeflow.proto`), hence this module.
"""

import base64
import json
import os
import urllib.parse
import zlib
from typing import Optional

import click
from ml_metadata.proto import metadata_store_pb2

MYSQL_PASSWORD_ENV = "MLMD_MYSQL_PASSWORD"
# Node ids in pipeline/factory.py's DAG (each component's default id).
TRAINER_ID = "Trainer"
EXAMPLE_GEN_ID = "TfdsExampleGen"


class NodeFailed(RuntimeError):
    """The node's execution is FAILED in ML Metadata."""


class MetadataUrlError(ValueError):
    """The ML Metadata URL is not one this entrypoint understands."""


def connection_config(url: str):
    """An ML Metadata connection from one URL.

    `grpc://host:port` (KFP's metadata gRPC service),
    `mysql://user[:password]@host[:port]/database` (the password may instead
    come from the MLMD_MYSQL_PASSWORD environment variable, e.g. from a
    Kubernetes secret), or `sqlite:///path/to/metadata.sqlite`.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "grpc":
        if not parsed.hostname or not parsed.port:
            raise MetadataUrlError(
                f"metadata URL {url!r} needs a host and port, e.g. "
                "grpc://metadata-grpc-service.kubeflow:8080.")
        return metadata_store_pb2.MetadataStoreClientConfig(
            host=parsed.hostname, port=parsed.port)
    if parsed.scheme == "mysql":
        database = parsed.path.lstrip("/")
        if not parsed.hostname or not database:
            raise MetadataUrlError(
                f"metadata URL {url!r} needs a host and a database, e.g. "
                "mysql://mlmd@mysql.kubeflow:3306/metadb.")
        password = (urllib.parse.unquote(parsed.password)
                    if parsed.password is not None
                    else os.environ.get(MYSQL_PASSWORD_ENV, ""))
        config = metadata_store_pb2.ConnectionConfig()
        config.mysql.host = parsed.hostname
        config.mysql.port = parsed.port or 3306
        config.mysql.database = database
        config.mysql.user = urllib.parse.unquote(parsed.username or "root")
        config.mysql.password = password
        return config
    if parsed.scheme == "sqlite":
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = parsed.path
        config.sqlite.connection_mode = 3  # READWRITE_OPENCREATE
        return config
    raise MetadataUrlError(
        f"metadata URL {url!r} is not grpc://host:port, "
        "mysql://user:password@host:port/database or sqlite:///path.")


def redacted(url: str) -> str:
    """`url` without its password, for messages."""
    parsed = urllib.parse.urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@", 1)


def open_store(connection, url: str):
    """The ML Metadata store, or one clear error naming it."""
    from ml_metadata import metadata_store  # pylint: disable=import-outside-toplevel
    try:
        return metadata_store.MetadataStore(connection)
    except Exception as error:  # pylint: disable=broad-except
        # MLMD raises its own errors (from C++) for every connection failure.
        raise click.ClickException(
            f"cannot open ML Metadata at {redacted(url)}: "
            f"{str(error).strip()}. Check the host, port, database and "
            f"credentials (the MySQL password comes from the URL or "
            f"{MYSQL_PASSWORD_ENV}).") from None


def encode_ir(ir) -> str:
    """Compiled pipeline IR -> compact text for a container argument."""
    return base64.b64encode(zlib.compress(ir.SerializeToString(), 9)).decode()


def decode_ir(text: str):
    """The inverse of `encode_ir`."""
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    ir = pipeline_pb2.Pipeline()
    ir.ParseFromString(zlib.decompress(base64.b64decode(text)))
    return ir


def set_run_parameters(ir, epochs: Optional[int] = None,
                       dataset_version: Optional[str] = None) -> None:
    """Applies the run-time pipeline parameters to the compiled IR.

    The Trainer reads its epochs from its `custom_config` exec property and
    TfdsExampleGen its dataset from `dataset` (`name[/config][:version]`);
    both are part of those nodes' cache keys, so a changed value re-runs
    what it affects and nothing else.
    """
    for node in ir.nodes:
        node_id = node.pipeline_node.node_info.id
        parameters = node.pipeline_node.parameters.parameters
        if epochs is not None and node_id == TRAINER_ID:
            value = parameters["custom_config"].field_value
            custom_config = json.loads(value.string_value)
            if custom_config.get("epochs") != int(epochs):
                custom_config["epochs"] = int(epochs)
                value.string_value = json.dumps(custom_config)
        if dataset_version and node_id == EXAMPLE_GEN_ID:
            value = parameters["dataset"].field_value
            value.string_value = (value.string_value.split(":")[0] + ":"
                                  + dataset_version)


def run_node(ir, node_id: str, run_id: str, connection) -> None:
    """Launches one node of `ir` in pipeline run `run_id`."""
    from tfx.dsl.compiler import constants  # pylint: disable=import-outside-toplevel
    from tfx.orchestration import metadata  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.local import runner_utils  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.portable import launcher  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.portable import runtime_parameter_utils  # pylint: disable=import-outside-toplevel

    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    nodes = {n.pipeline_node.node_info.id: n.pipeline_node for n in ir.nodes}
    if node_id not in nodes:
        raise ValueError(f"the pipeline has no node {node_id!r}; it has "
                         f"{sorted(nodes)}.")
    deployment = runner_utils.extract_local_deployment_config(ir)
    launcher.Launcher(
        pipeline_node=nodes[node_id],
        mlmd_connection=metadata.Metadata(connection),
        pipeline_info=ir.pipeline_info,
        pipeline_runtime_spec=ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(
            deployment, node_id),
    ).launch()
    # The Launcher records a node whose inputs cannot be resolved as FAILED
    # and returns normally; the task must fail so the run stops here.
    from ml_metadata import metadata_store  # pylint: disable=import-outside-toplevel
    from pipeline import summary  # pylint: disable=import-outside-toplevel
    state = summary.node_states(metadata_store.MetadataStore(connection),
                                ir.pipeline_info.id, run_id).get(node_id)
    if state == "FAILED":
        raise NodeFailed(f"node {node_id} failed in run {run_id} (see the "
                         "log above).")


@click.command()
@click.option("--pipeline-ir", default=None,
              help="The compiled pipeline, as written by encode_ir.")
@click.option("--pipeline-ir-file", default=None,
              help="A file (local or gs://) holding the encoded IR instead.")
@click.option("--node-id", required=True, help="The node to run.")
@click.option("--run-id", required=True,
              help="The pipeline run id, shared by all nodes of a run.")
@click.option("--metadata", "metadata_url", required=True,
              help="grpc://host:port, mysql://user:password@host:port/db "
                   "or sqlite:///path.")
@click.option("--epochs", type=int, default=None)
@click.option("--dataset-version", default=None)
def main(pipeline_ir, pipeline_ir_file, node_id, run_id, metadata_url,
         epochs, dataset_version):
    """Run one node of a compiled TFX pipeline against a shared ML
    Metadata store."""
    if bool(pipeline_ir) == bool(pipeline_ir_file):
        raise click.UsageError(
            "pass exactly one of --pipeline-ir and --pipeline-ir-file.")
    try:
        connection = connection_config(metadata_url)
    except MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    open_store(connection, metadata_url)
    if pipeline_ir_file:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        with tf.io.gfile.GFile(pipeline_ir_file) as f:
            pipeline_ir = f.read()
    ir = decode_ir(pipeline_ir)
    set_run_parameters(ir, epochs, dataset_version)
    from absl import logging  # pylint: disable=import-outside-toplevel
    logging.set_verbosity(logging.INFO)
    try:
        run_node(ir, node_id, run_id, connection)
    except NodeFailed as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    main()  # pylint: disable=no-value-for-parameter
