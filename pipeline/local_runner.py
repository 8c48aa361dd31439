"""Where it runs, locally: LocalDagRunner or BeamDagRunner, sqlite MLMD.

`run(config, runner)` checks the dataset before any component runs, runs
the pipeline with one progress line per component, and writes the summary
to `<output-dir>/last_run.json`.
"""

import contextlib
import fcntl
import logging
import os
import time
from typing import Any, Callable, Dict, Optional

from absl import logging as absl_logging
from ml_metadata import metadata_store
from tfx import v1 as tfx
from tfx.dsl.compiler import compiler
from tfx.orchestration.beam import beam_dag_runner
from tfx.dsl.compiler import constants as compiler_constants
from tfx.orchestration.portable import runtime_parameter_utils

from components import features
from components.tfds_example_gen import dataset as tfds_dataset
from pipeline import console
from pipeline import factory
from pipeline import progress
from pipeline import summary as summary_lib
from pipeline_config import PipelineConfig

RUNNERS = ("local", "beam")
LOCK_FILE = ".run.lock"


class RunError(RuntimeError):
    """The run failed; the message says where and why, the log has more."""


def check_dataset(config: PipelineConfig):
    """Finds, prepares and checks the dataset before any component runs.

    Returns:
      The TFDS builder, prepared.

    Raises:
      tfds_dataset.DatasetError: unknown dataset, not preparable offline,
        unknown split, or data that does not match the committed schema.
    """
    builder = tfds_dataset.get_builder(config.dataset.tfds_name,
                                       config.dataset.data_dir)
    if not os.path.isfile(config.schema_file):
        raise tfds_dataset.DatasetError(
            f"no schema for dataset {config.dataset.name!r} at "
            f"{config.schema_file!r}: write a first one with `python -m "
            f"pipeline infer-schema --dataset {config.dataset.name}`, review "
            "and commit it, or pass --schema.")
    contract = features.contract_from_schema(
        features.load_schema(config.schema_file))
    info_features = builder.info.features
    for key in (features.IMAGE_KEY, features.LABEL_KEY):
        if key not in info_features:
            raise tfds_dataset.DatasetError(
                f"dataset {builder.info.full_name!r} has no {key!r} feature "
                f"(it has {sorted(info_features.keys())}); the pipeline "
                "trains image classifiers on 'image' and 'label'.")
    shape = tuple(info_features[features.IMAGE_KEY].shape)
    if shape != contract.image_shape:
        raise tfds_dataset.DatasetError(
            f"dataset {builder.info.full_name!r} has images of shape {shape}"
            f" but the schema {config.schema_file!r} says "
            f"{contract.image_shape}; pass the dataset's own schema with "
            "--schema.")
    tfds_dataset.prepare(builder, config.dataset.manual_dir)
    tfds_dataset.check_splits(builder, config.dataset.splits)
    return builder


@contextlib.contextmanager
def exclusive(output_dir: str):
    """Holds the output dir's run lock: one pipeline run at a time.

    An advisory `flock` on `<output-dir>/.run.lock`. The kernel releases it
    when the holding process ends, however it ends, so a crashed or killed
    run never leaves it held; the file only records the last holder's pid.

    Raises:
      RunError: another process holds the lock.
    """
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise RunError(
                f"another pipeline run (pid {holder}) is using {output_dir}; "
                "wait for it to finish, or use another --output-dir.") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def metadata_connection(config: PipelineConfig):
    """The sqlite ML Metadata store under the output dir."""
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path)


def run(config: PipelineConfig, runner: str, *,
        echo: Callable[[str], None] = print,
        run_id: Optional[str] = None,
        log_path: Optional[str] = None) -> Dict[str, Any]:
    """Runs the pipeline once and writes `last_run.json`.

    Args:
      config: validated settings.
      runner: `local` (LocalDagRunner) or `beam` (BeamDagRunner).
      echo: where progress lines go.
      run_id: the run's id; a new one by default.
      log_path: the log file named in messages (see `pipeline.console`).

    Returns:
      The summary written to `config.summary_path`.

    Raises:
      ValueError: unknown runner.
      tfds_dataset.DatasetError: the dataset cannot be used.
      RunError: another run holds the output dir, or a component failed
        (after the summary is written).
    """
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; use one of "
                         f"{', '.join(RUNNERS)}.")
    with exclusive(config.output_dir):
        return _run(config, runner, echo, run_id, log_path)


def _run(config: PipelineConfig, runner: str, echo, run_id, log_path):
    started = time.monotonic()
    # Progress is read from TFX's INFO logs.
    absl_logging.set_verbosity(absl_logging.INFO)
    run_id = run_id or console.new_run_id()
    log_hint = f" (full log: {log_path})" if log_path else ""
    builder = check_dataset(config)
    echo(f"Run {run_id}: {builder.info.full_name}, {runner} runner")
    pipeline = factory.create_pipeline(
        config, metadata_connection(config), config.beam.pipeline_args)
    ir = compiler.Compiler().compile(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {compiler_constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    node_ids = [n.pipeline_node.node_info.id for n in ir.nodes]
    handler = progress.ProgressHandler(
        node_ids, lambda node_id, record: echo(
            progress.format_line(node_id, record)))
    error: Optional[BaseException] = None
    logging.getLogger().addHandler(handler)
    try:
        _runner(runner).run_with_ir(ir)
    except Exception as e:  # reported below, with the summary written
        error = e
        handler.mark_unfinished_failed()
        logging.exception("pipeline run %s failed", run_id)
    finally:
        logging.getLogger().removeHandler(handler)

    store = metadata_store.MetadataStore(metadata_connection(config))
    # TFX records a node whose inputs cannot be resolved as FAILED in ML
    # Metadata and carries on with the rest of the DAG; such a run failed
    # too, even when the runner returns normally.
    states = summary_lib.node_states(store, config.name, run_id)
    failed = [n for n in node_ids if states.get(n) == "FAILED"]
    for node_id in failed:
        handler.records[node_id].status = progress.FAILED
    if failed and error is None:
        error = RuntimeError("input resolution failed (see the log)")
    summary = summary_lib.build(
        store, pipeline_name=config.name, run_id=run_id, runner=runner,
        dataset={"name": builder.info.name,
                 "version": str(builder.info.version)},
        records=handler.records,
        wall_seconds=time.monotonic() - started,
        serving_dir=config.serving_dir)
    summary["report"] = _write_report(summary, store, config)
    summary_lib.write(summary, config.summary_path)
    if error is not None:
        failed = [n for n in node_ids
                  if handler.records[n].status == progress.FAILED]
        where = {0: "run failed", 1: f"component {failed[0]} failed"}.get(
            len(failed), f"components {' and '.join(failed)} failed")
        raise RunError(f"{where}: {type(error).__name__}: {error}"
                       f"{log_hint}") from error
    return summary


def _write_report(summary, store, config: PipelineConfig) -> Optional[str]:
    """The run's HTML report; a report that fails never fails the run."""
    from pipeline import report  # pylint: disable=import-outside-toplevel
    try:
        return report.write(summary, store, config.name, config.output_dir)
    except Exception:  # pylint: disable=broad-except
        logging.exception("could not write the run report")
        return None


def _runner(name: str):
    if name == "beam":
        return beam_dag_runner.BeamDagRunner()
    return tfx.orchestration.LocalDagRunner()
