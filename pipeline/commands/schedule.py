"""`schedule`: retrain on a schedule, here in the foreground, as a KFP
recurring run, or as a Vertex AI schedule."""

import os

import click

import pipeline_config
from pipeline.commands import options
from pipeline.commands import run as run_commands
from pipeline.commands.deploy import check_target, deploy_options


@click.command(context_settings={"ignore_unknown_options": True,
                               "allow_extra_args": True},
             epilog="""
\b
Examples:
  # Retrain on this machine at 03:00 every day (foreground; Ctrl-C stops):
  python -m pipeline schedule --target local --cron "0 3 * * *" \\
      --output-dir output --tfds-manual-dir ../shared/datasets/fashion_mnist
  # From an external cron or systemd timer: run only if the data changed:
  python -m pipeline schedule --target local --once-if-changed \\
      --output-dir output
  python -m pipeline schedule --target kubeflow --package pipeline.yaml \\
      --host http://localhost:8080 --cron "0 3 * * *"
  python -m pipeline schedule --target vertex --package pipeline.json \\
      --project my-project --cron "0 3 * * mon-fri"

With --target local, options after the schedule's own are `run` options
(the same pipeline settings as `python -m pipeline run`).
""")
@click.option("--target", "--runner", "target",
              type=click.Choice(["local", "kubeflow", "vertex"]),
              required=True,
              help="local: runs here, in the foreground; kubeflow: a KFP "
                   "recurring run; vertex: a Vertex AI schedule.")
@click.option("--cron", "cron_expression", default=None,
              help="Five-field cron, e.g. '0 3 * * *', or @daily etc.")
@click.option("--once-if-changed", is_flag=True,
              help="[local] Run once now if the data changed since the "
                   "last successful run, else say so and exit 0.")
@click.option("--run-now", is_flag=True,
              help="[local] Also run once right away.")
@click.option("--max-runs", type=int, default=None,
              help="[local] Stop after this many runs.")
@deploy_options
@click.pass_context
def schedule(ctx, target, cron_expression, once_if_changed, run_now,
             max_runs, package, host, token, experiment, project, region,
             service_account, params):
    """Retrain on a schedule: here (a run at each cron tick, never two at
    once), as a KFP recurring run, or as a Vertex AI schedule (one run at a
    time, no catch-up of missed runs)."""
    from pipeline.scheduling import cron  # pylint: disable=import-outside-toplevel
    if target == "local":
        return _schedule_locally(ctx, cron_expression, once_if_changed,
                                 run_now, max_runs)
    if ctx.args:
        raise click.UsageError(f"unknown options for --target {target}: "
                               f"{' '.join(ctx.args)}")
    if not cron_expression:
        raise click.UsageError("--cron is needed, e.g. --cron '0 3 * * *'.")
    try:
        cron.parse(cron_expression)
    except cron.CronError as error:
        raise click.UsageError(str(error)) from None
    check_target(target, package, host, project)
    from pipeline.scheduling import deploy as deployment  # pylint: disable=import-outside-toplevel
    try:
        pipeline = deployment.read_package(package, target)
        values = pipeline.values(params)
        if target == "kubeflow":
            result = deployment.kfp_schedule(
                pipeline, host, cron_expression,
                experiment or pipeline.name, token, values)
            click.echo(f"Recurring run {result.recurring_run_id} of pipeline "
                       f"{result.pipeline_id} version {result.version_id}")
            if pipeline.scheduled(values).get(deployment.ONLY_IF_CHANGED):
                click.echo(
                    "A tick on the same pipeline and unchanged data stops "
                    "after its decide task, which says why (--param "
                    "only_if_changed=false runs every tick in full).")
        else:
            name = deployment.vertex_schedule(
                pipeline, deployment.Vertex(project, region, service_account),
                cron_expression, values)
            click.echo(f"Schedule {name}")
    except deployment.DeployError as error:
        raise click.ClickException(str(error)) from None
    return None


def _schedule_locally(ctx, cron_expression, once_if_changed, run_now,
                      max_runs):
    """`schedule --target local`: the run options are ctx.args."""
    from pipeline.scheduling import cron  # pylint: disable=import-outside-toplevel
    from pipeline.scheduling import local as scheduler  # pylint: disable=import-outside-toplevel
    for _, flag in options.given(ctx, (
            "package", "host", "token", "experiment", "project",
            "service_account", "params")):
        raise click.UsageError(f"{flag} does not apply to --target local.")
    if once_if_changed == bool(cron_expression):
        raise click.UsageError(
            "--target local takes --cron EXPR (run at each tick) or "
            "--once-if-changed (one check, for an external cron), not both.")
    # The run options, checked now rather than at the first tick.
    run_context = run_commands.run.make_context("run", list(ctx.args))
    config = options.load_config({k: v for k, v in run_context.params.items()
                                  if k not in ("runner", "verbose")})
    run_once = scheduler.run_command(list(ctx.args))
    if once_if_changed:
        changed, message = _data_changed(config)
        click.echo(message)
        if changed:
            ctx.exit(run_once(lambda child: None))
        return None
    try:
        loop = scheduler.Scheduler(cron_expression, run_once,
                                   echo=lambda line: click.echo(line),
                                   max_runs=max_runs, run_now=run_now)
    except cron.CronError as error:
        raise click.UsageError(str(error)) from None
    loop.install_signal_handlers()
    click.echo(f"Scheduling {config.name} in {config.output_dir}: "
               f"{loop.expression} (local time); Ctrl-C stops.")
    codes = loop.loop()
    failed = sum(1 for c in codes if c != 0)
    click.echo(f"{len(codes)} run(s), {failed} failed.")
    return None


def _data_changed(config: pipeline_config.PipelineConfig):
    """(changed?, message): the data now vs. the data of the last successful
    run in this output dir's ML Metadata. First without TFDS (unchanged
    files, see components/tfds_example_gen/manifest.py), else by the data's
    fingerprint."""
    from pipeline.metadata import runs  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import urls  # pylint: disable=import-outside-toplevel
    store = last = None
    if os.path.isfile(config.metadata_path):
        try:
            store = metadata_store.open_store(
                urls.local_sqlite(config.metadata_path), read_only=True)
        except metadata_store.StoreError as error:
            raise click.ClickException(str(error)) from None
        last = runs.last_successful(store, config.name)
        quick = runs.dataset_unchanged_since(store, last, config.dataset)
        if quick is not None:
            return quick.run, quick.reason
    # TFDS imports TensorFlow, whose C++ start-up noise (CUDA plugin
    # registration, CPU features) is not news on a scheduler's console.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from components.tfds_example_gen import dataset as tfds_dataset  # pylint: disable=import-outside-toplevel
    from pipeline.runners import preflight  # pylint: disable=import-outside-toplevel
    try:
        builder = preflight.check_dataset(config)
    except tfds_dataset.DatasetError as error:
        raise click.ClickException(str(error)) from None
    now = tfds_dataset.fingerprint(builder, config.dataset.splits)
    decision = runs.decide_on_data(store, last, config.name, now,
                                   builder.info.full_name)
    return decision.run, decision.reason
