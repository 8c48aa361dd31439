"""Where it runs, locally: LocalDagRunner or BeamDagRunner, sqlite MLMD.

`run(config, runner)` checks the dataset before any component runs, runs
the pipeline with one progress line per component, and writes the summary
to `<output-dir>/last_run.json`.
"""

import logging
import os
import time
from typing import Any, Callable, Dict, Optional

from absl import logging as absl_logging
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.beam import beam_dag_runner
from tfx.dsl.compiler import constants as compiler_constants
from tfx.orchestration.portable import runtime_parameter_utils

from components.serving_validator import standby
from pipeline.reporting import console
from pipeline import factory
from pipeline import nodes
from pipeline.metadata import runs as metadata_runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import output_lock
from pipeline.runners import preflight
from pipeline.reporting import progress
from pipeline.reporting import summary as summary_lib
from pipeline_config import PipelineConfig, SOURCE_SETUP_FILE

RUNNERS = ("local", "beam")


class RunError(RuntimeError):
    """The run failed; the message says where and why, the log has more."""


def metadata_url(config: PipelineConfig) -> urls.StoreUrl:
    """The sqlite ML Metadata store under the output dir."""
    return urls.local_sqlite(config.metadata_path)


def run(config: PipelineConfig, runner: str, *,
        echo: Callable[[str], None] = print,
        run_id: Optional[str] = None,
        log_path: Optional[str] = None,
        orchestration: factory.Orchestration = factory.Orchestration()
        ) -> Dict[str, Any]:
    """Runs the pipeline once and writes `last_run.json`.

    Args:
      config: validated settings.
      runner: `local` (LocalDagRunner) or `beam` (BeamDagRunner).
      echo: where progress lines go.
      run_id: the run's id; a new one by default.
      log_path: the log file named in messages (see `pipeline.reporting.console`).
      orchestration: the pipeline as built for another orchestrator (e.g.
        `vertex.orchestration(...)`, to run here what Vertex would).

    Returns:
      The summary written to `config.summary_path`.

    Raises:
      ValueError: unknown runner.
      components.tfds_example_gen.dataset.DatasetError: the dataset cannot be used.
      components.storage.StorageError: an s3:// location cannot be used.
      preflight.BeamRunnerError: the Beam runner cannot run the Beam steps.
      RunError: another run holds the output dir, or a component failed
        (after the summary is written).
    """
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; use one of "
                         f"{', '.join(RUNNERS)}.")
    try:
        with output_lock.exclusive(config.output_dir):
            return _run(config, runner, echo, run_id, log_path,
                        orchestration)
    except output_lock.Busy as error:
        raise RunError(str(error)) from None


def _setup_file() -> Optional[str]:
    """This package's setup.py, when it runs from a source checkout."""
    return SOURCE_SETUP_FILE if os.path.isfile(SOURCE_SETUP_FILE) else None


def _run(config: PipelineConfig, runner: str, echo, run_id, log_path,
         orchestration: factory.Orchestration):
    started = time.monotonic()
    startup = console.process_seconds()
    # Progress is timed from TFX's INFO logs.
    absl_logging.set_verbosity(absl_logging.INFO)
    run_id = run_id or console.new_run_id()
    log_hint = f" (full log: {log_path})" if log_path else ""
    preflight.check_beam_runner(config.beam)
    preflight.check_storage(config)
    builder = preflight.check_dataset(config)
    echo(f"Run {run_id}: {builder.info.full_name}, {runner} runner")
    ir = factory.compile_ir(factory.create_pipeline(
        config, metadata_url(config).connection_config(),
        config.beam.pipeline_args(_setup_file()), orchestration))
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {compiler_constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    node_ids = [n.pipeline_node.node_info.id for n in ir.nodes]
    preflight_seconds = time.monotonic() - started
    handler = progress.ProgressHandler(
        node_ids, lambda node_id, record: echo(
            progress.format_line(node_id, record)),
        status_of=_StateReader(config, run_id).state, on_work=_on_work)
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
        standby.discard()

    store = metadata_store.open_store(metadata_url(config), read_only=False)
    # TFX records a node whose inputs cannot be resolved as FAILED in ML
    # Metadata and carries on with the rest of the DAG; such a run failed
    # too, even when the runner returns normally.
    run = metadata_runs.get_run(store, config.name, run_id)
    untimed = progress.settle(handler.records,
                              dict(run.executions) if run else {})
    if untimed:
        logging.warning(
            "TFX's log had no start and finish lines for %s (has its "
            "wording changed?): their states are ML Metadata's, their "
            "times its execution times, without a work/overhead split.",
            ", ".join(untimed))
        echo(f"  (timed by ML Metadata, not TFX's log: {', '.join(untimed)})")
    failed = [n for n in node_ids
              if handler.records[n].status == progress.FAILED]
    if failed and error is None:
        error = RuntimeError("input resolution failed (see the log)")
    summary = summary_lib.build(
        store, run, run_id=run_id, runner=runner,
        dataset={"name": builder.info.name,
                 "version": str(builder.info.version)},
        records=handler.records,
        wall_seconds=time.monotonic() - started,
        time_split={"startup_seconds": startup,
                    "preflight_seconds": preflight_seconds},
        serving_dir=config.serving_dir)
    summary["report"] = _write_report(summary, store, run, config)
    summary_lib.write(summary, config.summary_path)
    if error is not None:
        where = {0: "run failed", 1: f"component {failed[0]} failed"}.get(
            len(failed), f"components {' and '.join(failed)} failed")
        raise RunError(f"{where}: {type(error).__name__}: {error}"
                       f"{log_hint}") from error
    return summary


class _StateReader:
    """A node's state in this run, read from the run's ML Metadata store
    when the node finishes (opened at the first read: the first run
    creates the store)."""

    def __init__(self, config: PipelineConfig, run_id: str):
        self._config, self._run_id = config, run_id
        self._store = None

    def state(self, node_id: str) -> Optional[int]:
        if self._store is None:
            self._store = metadata_store.open_store(
                metadata_url(self._config), read_only=True)
        execution = metadata_runs.node_execution(
            self._store, self._config.name, self._run_id, node_id)
        return execution.last_known_state if execution else None


def _on_work(node_id: str) -> None:
    """Nodes share this process: while the Evaluator works, mostly on one
    core, the serving check's fresh process imports TensorFlow on the
    other (components/serving_validator/standby.py). A speed-up: if it
    cannot start, the check starts its process when it runs."""
    if node_id == nodes.EVALUATOR and standby.spare_core():
        try:
            standby.start_early()
        except OSError as error:
            logging.warning("could not start the serving check's process "
                            "early: %s", error)


def _write_report(summary, store, run,
                  config: PipelineConfig) -> Optional[str]:
    """The run's HTML report; a report that fails never fails the run."""
    from pipeline.reporting import report  # pylint: disable=import-outside-toplevel
    try:
        return report.write(summary, store, run, config.output_dir)
    except Exception:  # pylint: disable=broad-except
        logging.exception("could not write the run report")
        return None


def _runner(name: str):
    if name == "beam":
        return beam_dag_runner.BeamDagRunner()
    return LocalDagRunner()
