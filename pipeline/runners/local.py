"""Where it runs, locally: TFX's LocalDagRunner loop, with independent
nodes side by side (launching.py), or BeamDagRunner; sqlite MLMD.

`run(config, runner)` checks the dataset before any component runs, runs
the pipeline with one progress line per component, and writes the summary
to `<output-dir>/last_run.json`.

A re-run that will likely find every node in TFX's cache starts in about a
second instead of five: when the compiled pipeline kept by the last run
has the same key (`compiled.py`) and the data passes the quick check the
scheduler trusts (the files the last successful run read are unchanged),
the local runner runs the kept pipeline without building it or loading
TFDS, and TFX's optional imports of TensorFlow and Beam wait until an
executor runs (components/tfx_imports.py; the `run` command defers them
before it imports this module, and a run that builds everything, or an
executor, ends the deferral). Every node still goes through TFX's
launcher, its driver and its cache lookup, as in any run.
"""

import gc
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from absl import logging as absl_logging

from components import storage
from components import tfx_imports
from components.serving_validator import standby
from pipeline.reporting import console
from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata import runs as metadata_runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import compiled
from pipeline.runners import output_lock
from pipeline.runners import preflight
from pipeline.reporting import progress
from pipeline.reporting import summary as summary_lib
from pipeline_config import PipelineConfig, SOURCE_SETUP_FILE

if TYPE_CHECKING:
    from pipeline import factory

RUNNERS = ("local", "beam")
# Nodes side by side: the DAG is at most two wide (StatisticsGen and the
# ExampleValidator beside Transform and the Trainer).
PARALLEL_NODES = 2


class RunError(RuntimeError):
    """The run failed; the message says where and why, the log has more."""


def metadata_url(config: PipelineConfig) -> urls.StoreUrl:
    """The sqlite ML Metadata store under the output dir."""
    return urls.local_sqlite(config.metadata_path)


def run(config: PipelineConfig, runner: str, *,
        echo: Callable[[str], None] = print,
        run_id: Optional[str] = None,
        log_path: Optional[str] = None,
        orchestration: Optional["factory.Orchestration"] = None,
        parallel_nodes: int = PARALLEL_NODES) -> Dict[str, Any]:
    """Runs the pipeline once and writes `last_run.json`.

    Args:
      config: validated settings.
      runner: `local` (LocalDagRunner) or `beam` (BeamDagRunner).
      echo: where progress lines go.
      run_id: the run's id; a new one by default.
      log_path: the log file named in messages (see `pipeline.reporting.console`).
      orchestration: the pipeline as built for another orchestrator (e.g.
        `vertex.orchestration(...)`, to run here what Vertex would); by
        default `factory.Orchestration()`.
      parallel_nodes: with the `local` runner and Beam's DirectRunner, how
        many independent nodes run side by side (`launching.run_all`); 1
        runs one at a time, as TFX's LocalDagRunner does (and as runs with
        another Beam runner always do: `_side_by_side`).

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
                        orchestration, parallel_nodes)
    except output_lock.Busy as error:
        raise RunError(str(error)) from None


def _setup_file() -> Optional[str]:
    """This package's setup.py, when it runs from a source checkout."""
    return SOURCE_SETUP_FILE if os.path.isfile(SOURCE_SETUP_FILE) else None


def _run(config: PipelineConfig, runner: str, echo, run_id, log_path,
         orchestration: Optional["factory.Orchestration"],
         parallel_nodes: int):
    started = time.monotonic()
    startup = console.process_seconds()
    # Progress is timed from TFX's INFO logs.
    absl_logging.set_verbosity(absl_logging.INFO)
    run_id = run_id or console.new_run_id()
    log_hint = f" (full log: {log_path})" if log_path else ""
    preflight.check_beam_runner(config.beam)
    preflight.check_storage(config)
    beam_args = config.beam.pipeline_args(_setup_file())
    keep_key = _keep_key(config, runner, beam_args, orchestration)
    kept = _kept_pipeline(config, keep_key) if keep_key else None
    if kept:
        ir, dataset = kept
    else:
        # The full path: TFX's optional imports as TFX makes them.
        tfx_imports.restore_optional_imports()
        from pipeline import factory  # pylint: disable=import-outside-toplevel,redefined-outer-name
        builder = preflight.check_dataset(config)
        dataset = {"name": builder.info.name,
                   "version": str(builder.info.version),
                   "full_name": builder.info.full_name}
        ir = factory.compile_ir(factory.create_pipeline(
            config, metadata_url(config).connection_config(), beam_args,
            orchestration or factory.Orchestration()))
        if keep_key:
            compiled.save(config, keep_key, ir)
    echo(f"Run {run_id}: {dataset.pop('full_name')}, {runner} runner")
    from tfx.dsl.compiler import constants as compiler_constants  # pylint: disable=import-outside-toplevel
    from tfx.orchestration.portable import runtime_parameter_utils  # pylint: disable=import-outside-toplevel
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
    # What the imports and the compiling made (modules, classes, the
    # compiled pipeline) is frozen while the nodes run: the collector's
    # full collections skip it. Each took 0.3-0.4 s in whichever node's
    # thread triggered it, holding Python's lock against the others (the
    # Trainer's loop among them); now about 0.05 s (docs/performance.md).
    # Unfrozen after, so that a process running several pipelines (a
    # test session, a notebook) collects what a run left as usual.
    gc.freeze()
    try:
        _run_ir(runner, ir, metadata_url(config).connection_config(),
                _side_by_side(config, parallel_nodes), config.output_dir)
    except Exception as e:  # reported below, with the summary written
        error = e
        handler.mark_unfinished_failed()
        logging.exception("pipeline run %s failed", run_id)
    finally:
        gc.unfreeze()
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
        dataset=dataset,
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
    creates the store), by one node's thread at a time."""

    def __init__(self, config: PipelineConfig, run_id: str):
        self._config, self._run_id = config, run_id
        self._store = None
        self._lock = threading.Lock()

    def state(self, node_id: str) -> Optional[int]:
        with self._lock:
            if self._store is None:
                self._store = metadata_store.open_store(
                    metadata_url(self._config), read_only=True)
            execution = metadata_runs.node_execution(
                self._store, self._config.name, self._run_id, node_id)
        return execution.last_known_state if execution else None


def _on_work(node_id: str) -> None:
    """Nodes share this process: while the Evaluator works, mostly on one
    core, the serving check's fresh process imports TensorFlow on the
    other (components/serving_validator/standby.py)."""
    if node_id == nodes.EVALUATOR:
        standby.beside_evaluator()


def _write_report(summary, store, run,
                  config: PipelineConfig) -> Optional[str]:
    """The run's HTML report; a report that fails never fails the run."""
    from pipeline.reporting import report  # pylint: disable=import-outside-toplevel
    try:
        return report.write(summary, store, run, config.output_dir)
    except Exception:  # pylint: disable=broad-except
        logging.exception("could not write the run report")
        return None


def _side_by_side(config: PipelineConfig, parallel_nodes: int) -> int:
    """How many nodes run at a time: `parallel_nodes` when the Beam steps
    run in this process (the DirectRunner); one at a time, in the main
    thread, with a runner beyond it (Flink, Dataflow), where Beam's
    clients expect them: Beam 2.59's job server for a portable runner
    (Flink) installs a SIGINT handler as it starts, which Python allows
    only in the main thread."""
    if config.beam.runner != "direct" and parallel_nodes > 1:
        logging.info("nodes run one at a time: Beam's %s runner starts "
                     "from the main thread only", config.beam.runner)
        return 1
    return parallel_nodes


def _run_ir(runner: str, ir, connection_config, parallel_nodes: int,
            output_dir: str) -> None:
    if runner == "beam":
        from tfx.orchestration.beam import beam_dag_runner  # pylint: disable=import-outside-toplevel
        beam_dag_runner.BeamDagRunner().run_with_ir(ir)
    else:
        from pipeline.runners import launching  # pylint: disable=import-outside-toplevel
        launching.run_all(ir, connection_config, parallel=parallel_nodes,
                          yielding=nodes.YIELDING,
                          after=_report_early(output_dir, parallel_nodes))


def _report_early(output_dir: str, parallel_nodes: int
                  ) -> Dict[str, Callable[[Any], None]]:
    """What of the run's report is drawn before the run ends: with nodes
    side by side, the dataset's figure, once StatisticsGen's statistics
    exist, in a thread of its own beside the Trainer (started from
    StatisticsGen's thread, so at its lowest CPU priority), instead of
    after the Pusher with matplotlib's import and first figure
    (docs/performance.md). One at a time, the report draws it at the end,
    as it draws the others."""
    if parallel_nodes <= 1:
        return {}

    def statistics(info) -> None:
        from tfx.dsl.io import fileio  # pylint: disable=import-outside-toplevel
        # Found in the cache, the node has not written the artifacts TFX
        # hands back (the report draws the cached ones' figure, if needed).
        artifacts = info.output_dict.get(nodes.STATISTICS_KEY) or []
        if len(artifacts) == 1 and fileio.exists(artifacts[0].uri):
            threading.Thread(target=_draw_early,
                             args=(artifacts[0].uri, output_dir),
                             name="report figures", daemon=True).start()

    return {nodes.STATISTICS_GEN: statistics}


def _draw_early(statistics_uri: str, output_dir: str) -> None:
    from pipeline.reporting import report  # pylint: disable=import-outside-toplevel
    try:
        report.draw_early(statistics_uri, output_dir)
    except Exception:  # pylint: disable=broad-except
        # The report draws what is missing at the end.
        logging.exception("could not draw the report's dataset figure early")


def _keep_key(config: PipelineConfig, runner: str, beam_args,
              orchestration) -> Optional[str]:
    """The key to keep this run's compiled pipeline under (`compiled.py`),
    or None for a run that does not keep it: another orchestrator's
    pipeline, the Beam runner (which makes its own launchers), or storage
    or a Beam runner beyond this machine (their filesystems and runners
    need TensorFlow and Beam from the start; `_run` then ends the deferral
    of their imports at once)."""
    local = not any(storage.is_remote(path) for path in (
        config.pipeline_root, config.serving_dir, config.dataset.data_dir))
    if (runner != "local" or orchestration is not None or not local
            or config.beam.runner != "direct"):
        return None
    try:
        return compiled.key(config, runner, beam_args)
    except OSError:  # the full path names what is missing
        return None


def _kept_pipeline(config: PipelineConfig, keep_key: str
                   ) -> Optional[Tuple[Any, Dict[str, str]]]:
    """(the kept compiled pipeline, the dataset as the summary names it)
    when it was kept under `keep_key` and the data the last successful run
    read is unchanged (the check `schedule --once-if-changed` trusts); else
    None, and the run builds and checks everything."""
    ir = compiled.load(config, keep_key)
    if ir is None:
        logging.info("no compiled pipeline kept with key %s: compiling it.",
                     keep_key[:12])
        return None
    last = store = None
    if os.path.isfile(config.metadata_path):
        store = metadata_store.open_store(metadata_url(config),
                                          read_only=True)
        last = metadata_runs.last_successful(store, config.name)
    if metadata_runs.dataset_unchanged_since(store, last,
                                             config.dataset) is None:
        logging.info("the data may have changed since the last successful "
                     "run (%s): checking it and compiling the pipeline.",
                     last.run_id if last else "none")
        return None
    logging.info("running the compiled pipeline kept with key %s: the "
                 "data is that of the last successful run %s.",
                 keep_key[:12], last.run_id)
    examples = metadata_runs.examples(store, last)
    recorded = {key: lineage.custom_property(examples, f"tfds_{key}")
                for key in ("name", "config", "version")}
    return ir, {"name": recorded["name"], "version": recorded["version"],
                "full_name": "/".join(filter(None, (
                    recorded["name"], recorded["config"],
                    recorded["version"])))}
