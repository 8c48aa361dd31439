"""Runs nodes of a compiled TFX pipeline: what every Kubeflow task runs.

  python -m pipeline.runners.node_entrypoint --pipeline-ir IR \
      --node-id Transform --node-id ... --run-id RUN \
      --metadata grpc://metadata-grpc-service.kubeflow:8080

It does for each node, in the order given, what TFX's LocalDagRunner does
for each node in turn: TFX's portable `Launcher` resolves the node's inputs
from ML Metadata, runs its driver, looks for a cached execution, runs the
executor and publishes the outputs. All tasks of a run share the run id and
the ML Metadata store, so resolvers, caching and lineage behave exactly as
locally: every node is its own execution, cached or not on its own. A task
of several nodes pays the process start and imports once, and a node
found in the cache does not import its executor (executor_operators.py).
Its retry runs
again only the nodes that did not finish in this run (ML Metadata says
which), and each node's log lines also go to a file of their own,
`<pipeline root>/logs/<run id>/<node id>.log`. TFX 1.16's own
`tfx.orchestration.kubeflow.container_entrypoint` does not import (its wheel
lacks `tfx.orchestration.kubeflow.proto`), hence this module.
"""

import base64
import contextlib
import dataclasses
import io
import json
import logging
import os
import zlib
from typing import Callable, Iterator, List, Optional, Sequence

import click

from components import storage
from components import tfx_imports
from components.serving_validator import standby
from components.tfds_example_gen import properties
from components.trainer import settings as trainer_settings
from pipeline import nodes
from pipeline import startup
from pipeline.metadata import runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.reporting import progress


class NodeFailed(RuntimeError):
    """The node's execution is FAILED in ML Metadata."""


def encode_ir(ir) -> str:
    """Compiled pipeline IR -> compact text for a container argument."""
    return base64.b64encode(zlib.compress(ir.SerializeToString(), 9)).decode()


class BadIr(ValueError):
    """The text is not a pipeline IR that `encode_ir` wrote."""


def decode_ir(text: str):
    """The inverse of `encode_ir`.

    Raises:
      BadIr: the text is not one `encode_ir` wrote.
    """
    from google.protobuf import message  # pylint: disable=import-outside-toplevel
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    ir = pipeline_pb2.Pipeline()
    try:
        ir.ParseFromString(zlib.decompress(base64.b64decode(
            text.strip(), validate=True)))
    except (ValueError, zlib.error, message.DecodeError) as error:
        raise BadIr(f"not a compiled pipeline as `compile` embeds it "
                    f"({type(error).__name__}: {error}); recompile the "
                    "package.") from None
    if not ir.nodes:
        raise BadIr("a compiled pipeline with no nodes; recompile the "
                    "package.")
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
        if epochs is not None and node_id == nodes.TRAINER:
            value = parameters["custom_config"].field_value
            custom_config = json.loads(value.string_value)
            training = trainer_settings.read(custom_config)
            if training.epochs != int(epochs):
                value.string_value = json.dumps(trainer_settings.write(
                    dataclasses.replace(training, epochs=int(epochs)),
                    custom_config))
        if dataset_version and node_id == nodes.EXAMPLE_GEN:
            value = parameters[properties.DATASET_PARAMETER].field_value
            value.string_value = (value.string_value.split(":")[0] + ":"
                                  + dataset_version)


def storage_locations(ir) -> List[str]:
    """Where the compiled pipeline's tasks read and write: its root (the
    serving dir lies under it) and the TFDS data dir."""
    root = ir.runtime_spec.pipeline_root
    # A runtime parameter, with the compiled root as its default.
    locations = [root.field_value.string_value
                 or root.runtime_parameter.default_value.string_value]
    for node in ir.nodes:
        if node.pipeline_node.node_info.id == nodes.EXAMPLE_GEN:
            parameters = node.pipeline_node.parameters.parameters
            if properties.DATA_DIR_PARAMETER in parameters:
                locations.append(parameters[properties.DATA_DIR_PARAMETER]
                                 .field_value.string_value)
    return [location for location in locations if location]


# The states of a node's execution that a retry of its task does not run
# again.
FINISHED_STATES = ("COMPLETE", "CACHED")


def log_path(ir, run_id: str, node_id: str) -> str:
    """Where a node's own log goes: under the pipeline root (local, gs://
    or s3://), beside the artifacts it logs about."""
    root = storage_locations(ir)[0]
    return f"{root.rstrip('/')}/logs/{run_id}/{node_id}.log"


def run_nodes(ir, node_ids: Sequence[str], run_id: str,
              url: urls.StoreUrl, echo=None) -> None:
    """Launches the nodes of `ir`, in the order given, in pipeline run
    `run_id`; a node that finished in this run already (an earlier attempt
    of the task) is not run again.

    Raises:
      ValueError: the pipeline has no such node, before any runs.
      NodeFailed: a node's execution is FAILED; the nodes after it do not
        run.
    """
    from tfx.dsl.compiler import constants  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.portable import runtime_parameter_utils  # pylint: disable=import-outside-toplevel

    echo = echo or (lambda line: logging.info("%s", line))
    known = {n.pipeline_node.node_info.id for n in ir.nodes}
    unknown = [node_id for node_id in node_ids if node_id not in known]
    if unknown:
        raise ValueError(f"the pipeline has no node {', '.join(unknown)}; "
                         f"it has {', '.join(sorted(known))}.")
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    storage.enable(storage_locations(ir))
    store = metadata_store.open_store(url, read_only=True)
    finished = {node: state for node, state in runs.node_states(
        store, ir.pipeline_info.id, run_id).items()
        if state in FINISHED_STATES}
    try:
        for index, node_id in enumerate(node_ids):
            if node_id in finished:
                echo(f"{node_id}: already {finished[node_id]} in run "
                     f"{run_id} (an earlier attempt of this task); not run "
                     "again")
                continue
            # As in a local run: the serving check's process starts as the
            # Evaluator's executor does (not for an Evaluator found in the
            # cache), when the check runs next in this task.
            probe_early = (node_id == nodes.EVALUATOR
                           and nodes.SERVING_VALIDATOR in node_ids[index + 1:]
                           and nodes.SERVING_VALIDATOR not in finished)
            echo(f"{node_id}: launching (log: "
                 f"{log_path(ir, run_id, node_id)})")
            with _node_log(log_path(ir, run_id, node_id)), \
                    _when_executor_starts(standby.beside_evaluator
                                          if probe_early else None):
                state = run_node(ir, node_id, run_id, url)
            echo(f"{node_id}: {state}")
    finally:
        # A probe process that was not asked for (the check was found in
        # the cache, or a node failed) ends with the nodes' work.
        standby.discard()


def run_node(ir, node_id: str, run_id: str, url: urls.StoreUrl) -> str:
    """Launches one node of `ir` in pipeline run `run_id` (whose id
    `run_nodes` has put in the IR) and returns the state ML Metadata
    records for it (COMPLETE or CACHED).

    Raises:
      NodeFailed: the node's execution is FAILED.
    """
    from pipeline.runners import launching  # pylint: disable=import-outside-toplevel

    startup.report_startup(f"launching {node_id}")
    launching.launcher_for(ir, node_id, url.connection_config()).launch()
    # The Launcher records a node whose inputs cannot be resolved as FAILED
    # and returns normally; the task must fail so the run stops here.
    state = runs.node_states(
        metadata_store.open_store(url, read_only=True),
        ir.pipeline_info.id, run_id).get(node_id)
    if state == "FAILED":
        raise NodeFailed(f"node {node_id} failed in run {run_id} (see the "
                         "log above).")
    return state


class _ExecutorStart(logging.Handler):
    """Calls `then` once, as TFX logs that the node's executor starts."""

    def __init__(self, then: Callable[[], None]):
        super().__init__(level=logging.INFO)
        self._then = then

    def emit(self, record: logging.LogRecord) -> None:
        if self._then and progress.executor_starts(record.getMessage()):
            then, self._then = self._then, None
            then()


@contextlib.contextmanager
def _when_executor_starts(then: Optional[Callable[[], None]]
                          ) -> Iterator[None]:
    """Within the block, `then()` once the node's executor starts (not for
    a node found in the cache); nothing if `then` is None."""
    if then is None:
        yield
        return
    handler = _ExecutorStart(then)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)


@contextlib.contextmanager
def _node_log(path: str) -> Iterator[None]:
    """Copies the log records of the block (redacted) into `path` too,
    written once the block ends, failed or not (object stores take whole
    files)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(urls.RedactingFilter())
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        _write_log(path, buffer.getvalue())


def _write_log(path: str, text: str) -> None:
    """Writes a node's log file: with plain file calls on a local path (a
    task of cached nodes imports no TensorFlow), through TensorFlow's
    filesystems on gs:// and s3://."""
    if not storage.is_remote(path):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as error:
            logging.warning("could not write the node's log to %s: %s",
                            path, error)
        return
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    try:
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(text)
    except tf.errors.OpError as error:
        logging.warning("could not write the node's log to %s: %s",
                        path, error)


def redact_logs() -> None:
    """No log line of the task shows a store password (see urls.redact)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(urls.RedactingFilter())


@click.command()
@click.option("--pipeline-ir", default=None,
              help="The compiled pipeline, as written by encode_ir.")
@click.option("--pipeline-ir-file", default=None,
              help="A file (local or gs://) holding the encoded IR instead.")
@click.option("--node-id", "node_ids", required=True, multiple=True,
              help="A node to run; repeat for several, in the order to run "
                   "them (upstream first).")
@click.option("--run-id", required=True,
              help="The pipeline run id, shared by all nodes of a run.")
@click.option("--metadata", "metadata_url", required=True,
              help="grpc://host:port, mysql://user@host:port/db (password "
                   "in MLMD_MYSQL_PASSWORD) or sqlite:///path.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="The run's epochs (the pipeline parameter).")
@click.option("--dataset-version", default=None)
def main(pipeline_ir, pipeline_ir_file, node_ids, run_id, metadata_url,
         epochs, dataset_version):
    """Run nodes of a compiled TFX pipeline, one after another, against a
    shared ML Metadata store."""
    if bool(pipeline_ir) == bool(pipeline_ir_file):
        raise click.UsageError(
            "pass exactly one of --pipeline-ir and --pipeline-ir-file.")
    try:
        url = urls.parse(metadata_url)
        metadata_store.open_store(url, read_only=False)
    except urls.MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    except metadata_store.StoreError as error:
        raise click.ClickException(str(error)) from None
    if pipeline_ir_file:
        pipeline_ir = _read_ir_file(pipeline_ir_file)
    try:
        ir = decode_ir(pipeline_ir)
    except BadIr as error:
        where = (f"--pipeline-ir-file {pipeline_ir_file!r}"
                 if pipeline_ir_file else "--pipeline-ir")
        raise click.UsageError(f"{where} is {error}") from None
    try:
        set_run_parameters(ir, epochs, dataset_version)
    except trainer_settings.SettingsError as error:
        raise click.ClickException(str(error)) from None
    # What the package's decide task compares a scheduled run against.
    runs.record_pipeline_fingerprint(ir)
    if not any(storage.is_remote(location)
               for location in storage_locations(ir)):
        # A task whose nodes are all found in the cache then imports
        # neither TensorFlow nor Beam: TFX's optional imports of them wait
        # for the first executor (components/tfx_imports.py). TFX's own
        # filesystem then knows local paths only, as this task needs.
        tfx_imports.defer_optional_imports()
    from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel
    absl_logging.set_verbosity(absl_logging.INFO)
    redact_logs()
    try:
        run_nodes(ir, node_ids, run_id, url, echo=lambda line: click.echo(
            line, err=True))
    except (ValueError, NodeFailed) as error:
        raise click.ClickException(str(error)) from None
    except Exception:  # pylint: disable=broad-except
        # TFX and MLMD raise RuntimeError and errors of their own when the
        # store goes away mid-task; whether it did is asked of the store
        # itself, not read from their wording.
        lost = store_lost(url)
        if lost is None:
            raise
        raise click.ClickException(
            f"{' + '.join(node_ids)} failed: the ML Metadata store went away "
            f"while the task ran ({lost}) ML Metadata records nothing of the "
            "node that was running; the task's retry runs again every node "
            "that did not finish, once the store is back.") from None


def _read_ir_file(path: str) -> str:
    """The encoded IR in `path`, local or on an object store.

    Raises:
      click.ClickException: it cannot be read.
    """
    def unreadable(error):
        return click.ClickException(
            f"cannot read --pipeline-ir-file {path!r}: "
            f"{getattr(error, 'message', error)}")

    if not storage.is_remote(path):
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as error:
            raise unreadable(error) from None
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    try:
        with tf.io.gfile.GFile(path) as f:
            return f.read()
    except (tf.errors.OpError, UnicodeDecodeError) as error:
        raise unreadable(error) from None


def store_lost(url: urls.StoreUrl) -> Optional[str]:
    """Why the store cannot be opened now, or None if it can."""
    try:
        metadata_store.open_store(url, read_only=True)
    except metadata_store.StoreError as error:
        return str(error)
    return None


if __name__ == "__main__":
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    tfx_imports.lazy_tfx_components()
    from pipeline import exit as process_exit  # pylint: disable=ungrouped-imports
    process_exit.run_then_exit(main)
