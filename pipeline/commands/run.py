"""`run`: the pipeline, once, here."""

import os

import click

from pipeline.commands import options
from pipeline.commands.options import EXAMPLES


@click.command(epilog=EXAMPLES)
@click.option("--runner", type=click.Choice(["local", "beam"]),
              default="local", show_default=True,
              help="local: TFX LocalDagRunner; beam: TFX BeamDagRunner.")
@click.option("--verbose", is_flag=True,
              help="Show TFX and TensorFlow logs (always in the log file).")
@click.option("--pipeline-root", default=None, envvar="PIPELINE_ROOT",
              help="Keep artifacts here, and pushed models under "
                   "ROOT/serving, instead of under OUTPUT_DIR: an object "
                   "store URI, s3://bucket/path (endpoint and credentials "
                   "from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY) or gs://bucket/path.")
@click.option("--parallel-nodes", type=click.IntRange(min=1), default=None,
              help="With the local runner, how many independent components "
                   "run side by side [default: 2]; 1 runs one at a time, "
                   "as TFX's LocalDagRunner does.")
@options.pipeline_options
def run(runner, verbose, pipeline_root, parallel_nodes, **settings):
    """Run the pipeline once, locally, and print a summary.

    The summary is also written to OUTPUT_DIR/last_run.json.
    """
    if parallel_nodes and runner != "local":
        raise click.UsageError(
            f"--parallel-nodes is for the local runner; the {runner} runner "
            "orders the components itself. Leave it out, or use --runner "
            "local.")
    config = options.load_config(settings, artifact_root=pipeline_root)
    from pipeline.reporting import console  # pylint: disable=import-outside-toplevel
    os.makedirs(config.log_dir, exist_ok=True)
    run_id = console.new_run_id()
    log_path = os.path.join(config.log_dir, f"{run_id}.log")
    click.echo(f"Log: {log_path}")
    with console.capture_logs(log_path, verbose) as screen:
        # A re-run on unchanged data may need neither TensorFlow nor Beam
        # (pipeline/runners/local.py): TFX's optional imports of them wait.
        from components import tfx_imports  # pylint: disable=import-outside-toplevel
        tfx_imports.defer_optional_imports()
        # Heavy imports only once the settings are known to be good, and
        # with their start-up noise in the log file.
        from components import storage  # pylint: disable=import-outside-toplevel
        from components.tfds_example_gen import errors  # pylint: disable=import-outside-toplevel
        from pipeline.runners import local as local_runner  # pylint: disable=import-outside-toplevel
        from pipeline.runners import preflight  # pylint: disable=import-outside-toplevel
        try:
            summary = local_runner.run(
                config, runner, run_id=run_id, log_path=log_path,
                parallel_nodes=parallel_nodes or local_runner.PARALLEL_NODES,
                echo=lambda line: print(line, file=screen, flush=True))
        except (errors.DatasetError, storage.StorageError,
                preflight.BeamRunnerError, local_runner.RunError) as error:
            failure = str(error)
        else:
            failure = None
    if failure:
        raise click.ClickException(failure)
    click.echo(format_summary(summary, config.summary_path))



def format_summary(summary: dict, path: str) -> str:
    """The few lines printed at the end of a run."""
    metrics = summary.get("metrics") or {}
    split = summary.get("time")
    # From process start, so that it is the time the user waited.
    total = split["total_seconds"] if split else summary["wall_seconds"]
    lines = [f"Finished in {total:.1f} s."]
    if split:
        lines.append(
            f"  time: {split['work_seconds']:.1f} s of work, "
            f"{split['overhead_seconds']:.1f} s overhead"
            + (f", {split['side_by_side_seconds']:.1f} s of them side by side"
               if split.get("side_by_side_seconds", 0.0) >= 0.05 else "")
            + " (start-up and "
            f"imports {split['startup_seconds']:.1f}, checks and compiling "
            f"{split['preflight_seconds']:.1f}, Beam set-up "
            f"{split.get('beam_setup_seconds', 0.0):.1f}, ML Metadata and "
            f"caching {split['launcher_seconds']:.1f}, reading results "
            f"{split['after_seconds']:.1f})")
    data = summary.get("data") or {}
    if data.get("new") is False:
        ran = [n for n, c in summary["components"].items()
               if c["status"] == "executed" and not n.endswith("_resolver")]
        lines.append("  no new data: every component cached, nothing "
                     "retrained" if not ran else
                     f"  no new data, but {', '.join(ran)} ran again "
                     "(changed settings or code)")
    if metrics.get("unreadable"):
        lines.append(f"  metrics could not be read: {metrics['unreadable']}")
    if metrics.get("accuracy") is not None:
        lines.append(f"  accuracy {metrics['accuracy']:.4f} on "
                     f"{metrics.get('example_count', '?')} eval examples")
    lines.append(f"  blessed: {'yes' if summary['blessed'] else 'no'}")
    validation = summary.get("serving_validation")
    if validation and validation["passed"]:
        latency = validation["latency_ms"].get("serving_default", {})
        lines.append(
            "  serving: loads and answers in a fresh process (p50 "
            + ", ".join(f"{latency[k]:.1f} ms at batch {k.rsplit('_', 1)[1]}"
                        for k in sorted(latency) if k.startswith("p50"))
            + ")")
    elif validation:
        lines.append(f"  serving: REFUSED: {validation['reason']}")
    if summary["pushed_model"]:
        lines.append(f"  pushed:  {summary['pushed_model']}")
    else:
        lines.append("  pushed:  nothing new (serving "
                     f"{summary.get('serving_model') or 'nothing'})")
    if summary.get("model_card"):
        lines.append(f"Model card: {summary['model_card']}")
    if summary.get("report"):
        lines.append(f"Report:  {summary['report']}")
    lines.append(f"Summary: {path}")
    return "\n".join(lines)
