"""The one command line: `python -m pipeline` or `tfds-pipeline`.

Settings are read once here, from flags (or their environment variables),
into a validated `PipelineConfig`; a bad setting is one clear message and
exit code 2 before any component runs.
"""

import dataclasses
import os
import sys
import warnings

# Must be set before TensorFlow is imported: tensorflow-transform supports
# Keras 2 only, which TF 2.16 provides through tf-keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# google-api-core warns on import about Python 3.11's end of life.
warnings.filterwarnings("ignore", category=FutureWarning,
                        module=r"google\..*")

import click  # pylint: disable=wrong-import-position

import pipeline_config  # pylint: disable=wrong-import-position

EXAMPLES = """
\b
Examples:
  # Train on Fashion-MNIST (downloads it, or prepares it offline from the
  # four official files in a manual dir):
  python -m pipeline run --output-dir output \\
      --tfds-manual-dir ../shared/datasets/fashion_mnist
  # The same DAG on Beam, with 2 Beam worker processes and 2 CPU replicas:
  python -m pipeline run --runner beam --beam-workers 2 \\
      --beam-mode multi_processing --cpu-replicas 2
  # Another TFDS dataset, with its committed schema:
  python -m pipeline run --dataset mnist --epochs 3
"""


_PIPELINE = pipeline_config.PipelineConfig
_DATASET = pipeline_config.DatasetConfig
_TRAINING = pipeline_config.TrainingConfig
_EVALUATION = pipeline_config.EvaluationConfig
_BEAM = pipeline_config.BeamConfig
_KUBEFLOW = pipeline_config.KubeflowConfig
_VERTEX = pipeline_config.VertexConfig


def _default(config_class, field: str):
    """A setting's default, from its one home in pipeline_config."""
    return {f.name: f.default for f in dataclasses.fields(config_class)}[field]


def _pipeline_options(function):
    """The options that describe one pipeline (shared by its commands)."""
    options = [
        click.option("--output-dir",
                     default=_default(_PIPELINE, "output_dir"),
                     show_default=True,
                     envvar="PIPELINE_OUTPUT_DIR",
                     help="Artifacts, ML Metadata, served models and logs "
                          "go here."),
        click.option("--dataset",
                     default=_default(_DATASET, "name"), show_default=True,
                     help="TFDS dataset name."),
        click.option("--dataset-version", default=None,
                     help="TFDS version, e.g. 3.0.1 [default: the "
                          "dataset's default]."),
        click.option("--dataset-config", default=None,
                     help="TFDS builder config, for datasets that have "
                          "several."),
        click.option("--train-split",
                     default=_default(_DATASET, "train_split"),
                     show_default=True,
                     help="TFDS split (or slice, e.g. 'train[:10%]') to "
                          "train on."),
        click.option("--eval-split",
                     default=_default(_DATASET, "eval_split"),
                     show_default=True,
                     help="TFDS split to evaluate on."),
        click.option("--tfds-data-dir", default=None,
                     envvar="PIPELINE_TFDS_DATA_DIR",
                     help="TFDS data dir [default: ~/tensorflow_datasets]."),
        click.option("--tfds-manual-dir", default=None,
                     envvar="PIPELINE_TFDS_MANUAL_DIR",
                     help="Folder with the dataset's source files, to "
                          "prepare it without network access."),
        click.option("--schema", "schema_path", default=None,
                     help="Schema to validate against [default: the "
                          "committed schemas/<dataset>/schema.pbtxt]."),
        click.option("--epochs", type=int,
                     default=_default(_TRAINING, "epochs"), show_default=True),
        click.option("--batch-size", type=int,
                     default=_default(_TRAINING, "batch_size_per_replica"),
                     show_default=True,
                     help="Examples per replica per step."),
        click.option("--cpu-replicas", type=int,
                     default=_default(_TRAINING, "cpu_replicas"),
                     show_default=True,
                     help="Without GPUs: split the CPU into this many "
                          "MirroredStrategy replicas."),
        click.option("--seed", type=int,
                     default=_default(_TRAINING, "seed"), show_default=True,
                     help="Random seed of the Trainer."),
        click.option("--shuffle-buffer", type=int,
                     default=_default(_TRAINING, "shuffle_buffer"),
                     show_default=True,
                     help="Training shuffle buffer; 0 keeps TFDS's order "
                          "(already shuffled), as the seed script does."),
        click.option("--warm-start/--no-warm-start",
                     default=_default(_TRAINING, "warm_start"),
                     show_default=True,
                     help="Start training from the last blessed model "
                          "trained on other data."),
        click.option("--tpu", default=_default(_TRAINING, "tpu"),
                     help="Train under TPUStrategy on this TPU: 'local' on "
                          "a TPU VM, or a TPU name or grpc:// address "
                          "[default: GPUs if visible, else the CPU]."),
        click.option("--min-accuracy", type=float,
                     default=_default(_EVALUATION, "min_accuracy"),
                     show_default=True,
                     help="Bless only models at least this accurate."),
        click.option("--max-accuracy-drop", type=float,
                     default=_default(_EVALUATION, "max_accuracy_drop"),
                     show_default=True,
                     help="Bless only if accuracy is at most this much below "
                          "the last blessed model's."),
        click.option("--max-class-accuracy-drop", type=float,
                     default=_default(_EVALUATION, "max_class_accuracy_drop"),
                     show_default=True,
                     help="The same, for each class's accuracy."),
        click.option("--beam-workers", type=int,
                     default=_default(_BEAM, "direct_num_workers"),
                     show_default=True,
                     help="Beam DirectRunner workers (0: one per core)."),
        click.option("--beam-mode",
                     default=_default(_BEAM, "direct_running_mode"),
                     show_default=True,
                     type=click.Choice(pipeline_config.RUNNING_MODES),
                     help="Beam DirectRunner running mode."),
        click.option("--beam-arg", "beam_args", multiple=True,
                     help="Extra Beam pipeline arg, repeatable."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def config_from_options(options: dict) -> pipeline_config.PipelineConfig:
    """Builds the validated config from the shared pipeline options."""
    return pipeline_config.PipelineConfig(
        output_dir=options["output_dir"],
        schema_path=options["schema_path"],
        dataset=pipeline_config.DatasetConfig(
            name=options["dataset"], version=options["dataset_version"],
            config=options["dataset_config"],
            train_split=options["train_split"],
            eval_split=options["eval_split"],
            data_dir=options["tfds_data_dir"],
            manual_dir=options["tfds_manual_dir"]),
        training=pipeline_config.TrainingConfig(
            epochs=options["epochs"],
            batch_size_per_replica=options["batch_size"],
            cpu_replicas=options["cpu_replicas"],
            seed=options["seed"],
            shuffle_buffer=options["shuffle_buffer"],
            warm_start=options["warm_start"],
            tpu=options["tpu"]),
        evaluation=pipeline_config.EvaluationConfig(
            min_accuracy=options["min_accuracy"],
            max_accuracy_drop=options["max_accuracy_drop"],
            max_class_accuracy_drop=options["max_class_accuracy_drop"]),
        beam=pipeline_config.BeamConfig(
            direct_num_workers=options["beam_workers"],
            direct_running_mode=options["beam_mode"],
            extra_args=tuple(options["beam_args"])))


def _load_config(options: dict) -> pipeline_config.PipelineConfig:
    try:
        return config_from_options(options)
    except pipeline_config.ConfigError as error:
        raise click.UsageError(str(error)) from None


@click.group(epilog=EXAMPLES)
def cli():
    """Train, validate, evaluate and push a Keras image classifier on a
    TensorFlow Datasets dataset with TFX."""


@cli.command(epilog=EXAMPLES)
@click.option("--runner", type=click.Choice(["local", "beam"]),
              default="local", show_default=True,
              help="local: TFX LocalDagRunner; beam: TFX BeamDagRunner.")
@click.option("--verbose", is_flag=True,
              help="Show TFX and TensorFlow logs (always in the log file).")
@_pipeline_options
def run(runner, verbose, **options):
    """Run the pipeline once, locally, and print a summary.

    The summary is also written to OUTPUT_DIR/last_run.json.
    """
    config = _load_config(options)
    from pipeline import console  # pylint: disable=import-outside-toplevel
    os.makedirs(config.log_dir, exist_ok=True)
    run_id = console.new_run_id()
    log_path = os.path.join(config.log_dir, f"{run_id}.log")
    click.echo(f"Log: {log_path}")
    with console.capture_logs(log_path, verbose) as screen:
        # Heavy imports only once the settings are known to be good, and
        # with their start-up noise in the log file.
        from components.tfds_example_gen import dataset  # pylint: disable=import-outside-toplevel
        from pipeline import local_runner  # pylint: disable=import-outside-toplevel
        try:
            summary = local_runner.run(
                config, runner, run_id=run_id, log_path=log_path,
                echo=lambda line: print(line, file=screen, flush=True))
        except (dataset.DatasetError, local_runner.RunError) as error:
            failure = str(error)
        else:
            failure = None
    if failure:
        raise click.ClickException(failure)
    click.echo(format_summary(summary, config.summary_path))



KUBEFLOW_ONLY = ("metadata_url", "metadata_secret", "gpu_type", "tpu_type",
                 "node_selectors", "retries", "cpu_request", "cpu_limit",
                 "memory_request", "memory_limit", "trainer_cpu",
                 "trainer_memory")
VERTEX_ONLY = ("project", "region", "machine_type", "accelerator_type")
# Vertex defaults by accelerator kind: (machine type, accelerator type).
VERTEX_GPU = ("n1-standard-8", "NVIDIA_TESLA_T4")
VERTEX_TPU = ("ct5lp-hightpu-4t", "TPU_V5_LITEPOD")


@cli.command("compile", epilog="""
\b
Examples:
  python -m pipeline compile --target kubeflow --output pipeline.yaml \\
      --image gcr.io/my-project/tfds-pipeline:0.1.0 \\
      --pipeline-root gs://my-bucket/tfds-pipeline \\
      --metadata mysql://mlmd@mysql.kubeflow:3306/metadb \\
      --metadata-secret mlmd-mysql:password --trainer-gpus 1
  python -m pipeline compile --target vertex --output pipeline.json \\
      --image us-docker.pkg.dev/my-project/repo/tfds-pipeline:0.1.0 \\
      --pipeline-root gs://my-bucket/tfds-pipeline \\
      --project my-project --region us-central1 --trainer-gpus 1
""")
@click.option("--target", type=click.Choice(["kubeflow", "vertex"]),
              required=True,
              help="kubeflow: a KFP 2.x pipeline package (YAML); vertex: a "
                   "Vertex AI PipelineJob (JSON).")
@click.option("--output", required=True, help="Where to write the package.")
@click.option("--image", required=True, envvar="PIPELINE_IMAGE",
              help="Container image with this package installed (see "
                   "Dockerfile).")
@click.option("--pipeline-root", required=True,
              help="Pipeline root URI every task can reach, e.g. "
                   "gs://bucket/path.")
@click.option("--trainer-gpus", type=int,
              default=_default(_KUBEFLOW, "trainer_gpus"), show_default=True,
              help="GPUs for the Trainer.")
@click.option("--trainer-tpus", type=int,
              default=_default(_KUBEFLOW, "trainer_tpus"), show_default=True,
              help="TPU chips for the Trainer (GKE TPU node pool or Vertex "
                   "TPU VM); the Trainer then uses TPUStrategy.")
@click.option("--tpu-topology",
              default=_default(_KUBEFLOW, "tpu_topology"), show_default=True)
@click.option("--metadata", "metadata_url",
              default=_default(_KUBEFLOW, "metadata_url"),
              show_default=True,
              help="[kubeflow] ML Metadata: grpc://host:port or "
                   "mysql://user[:password]@host:port/database.")
@click.option("--metadata-secret", default=None,
              help="[kubeflow] NAME:KEY of a Kubernetes secret holding the "
                   "MySQL password (given to every task as "
                   "MLMD_MYSQL_PASSWORD).")
@click.option("--gpu-type",
              default=_default(_KUBEFLOW, "gpu_type"), show_default=True,
              help="[kubeflow] Kubernetes resource name of the GPUs.")
@click.option("--tpu-type",
              default=_default(_KUBEFLOW, "tpu_type"), show_default=True,
              help="[kubeflow] GKE TPU accelerator (node selector value).")
@click.option("--trainer-node-selector", "node_selectors", multiple=True,
              metavar="LABEL=VALUE",
              help="[kubeflow] Node selector for the Trainer's pod, "
                   "repeatable, e.g. "
                   "cloud.google.com/gke-accelerator=nvidia-tesla-t4.")
@click.option("--retries", type=int,
              default=_default(_KUBEFLOW, "retries"), show_default=True,
              help="[kubeflow] Retries of a failed task, with backoff.")
@click.option("--cpu-request", default=_default(_KUBEFLOW, "cpu_request"),
              show_default=True, help="[kubeflow] Every task but the "
                                      "Trainer.")
@click.option("--cpu-limit", default=_default(_KUBEFLOW, "cpu_limit"),
              show_default=True)
@click.option("--memory-request",
              default=_default(_KUBEFLOW, "memory_request"),
              show_default=True)
@click.option("--memory-limit", default=_default(_KUBEFLOW, "memory_limit"),
              show_default=True)
@click.option("--trainer-cpu", default=_default(_KUBEFLOW, "trainer_cpu"),
              show_default=True, help="[kubeflow] The Trainer's CPU "
                                      "(request and limit).")
@click.option("--trainer-memory",
              default=_default(_KUBEFLOW, "trainer_memory"),
              show_default=True)
@click.option("--project", default=None, envvar="GOOGLE_CLOUD_PROJECT",
              help="[vertex] Google Cloud project.")
@click.option("--region", default=_default(_VERTEX, "region"),
              show_default=True, help="[vertex] Vertex AI region.")
@click.option("--machine-type", default=None,
              help=f"[vertex] The Trainer's machine [default: "
                   f"{VERTEX_GPU[0]} with GPUs, {VERTEX_TPU[0]} with TPUs].")
@click.option("--accelerator-type", default=None,
              help=f"[vertex] Vertex accelerator [default: {VERTEX_GPU[1]} "
                   f"with GPUs, {VERTEX_TPU[1]} with TPUs].")
@_pipeline_options
@click.pass_context
def compile_command(ctx, target, output, image, pipeline_root, trainer_gpus,
                    trainer_tpus, tpu_topology, **options):
    """Compile the pipeline for Kubeflow Pipelines or Vertex AI Pipelines.

    Options marked [kubeflow] or [vertex] apply to that target only.
    """
    other = VERTEX_ONLY if target == "kubeflow" else KUBEFLOW_ONLY
    for name in other:
        if ctx.get_parameter_source(name) != click.core.ParameterSource \
                .COMMANDLINE:
            continue
        flag = next(p.opts[0] for p in ctx.command.params if p.name == name)
        if name == "metadata_url":
            # Part of the one compile interface for both targets.
            click.echo(f"Note: {flag} is not used for --target vertex; "
                       "Vertex AI keeps its own ML Metadata.", err=True)
            continue
        raise click.UsageError(f"{flag} does not apply to --target {target}.")
    target_options = {name: options.pop(name)
                      for name in KUBEFLOW_ONLY + VERTEX_ONLY}
    try:
        config = dataclasses.replace(config_from_options(options),
                                     remote_root=pipeline_root)
        if target == "kubeflow":
            settings = _kubeflow_config(image, trainer_gpus, trainer_tpus,
                                        tpu_topology, **target_options)
        else:
            settings = _vertex_config(image, trainer_gpus, trainer_tpus,
                                      tpu_topology, **target_options)
        if target == "kubeflow":
            from pipeline import kubeflow_runner  # pylint: disable=import-outside-toplevel
            kubeflow_runner.compile_package(config, settings, output)
        else:
            from pipeline import vertex_runner  # pylint: disable=import-outside-toplevel
            vertex_runner.compile_job(config, settings, output)
    except pipeline_config.ConfigError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Wrote {output}")


def _kubeflow_config(image, trainer_gpus, trainer_tpus, tpu_topology, *,
                     metadata_url, metadata_secret, gpu_type, tpu_type,
                     node_selectors, retries, **resources):
    selectors = []
    for selector in node_selectors:
        label, equals, value = selector.partition("=")
        if not (label and equals and value):
            raise pipeline_config.ConfigError(
                f"node selector {selector!r} is not LABEL=VALUE, e.g. "
                "cloud.google.com/gke-accelerator=nvidia-tesla-t4.")
        selectors.append((label, value))
    return pipeline_config.KubeflowConfig(
        image=image, metadata_url=metadata_url,
        metadata_secret=metadata_secret, trainer_gpus=trainer_gpus,
        gpu_type=gpu_type, trainer_tpus=trainer_tpus, tpu_type=tpu_type,
        tpu_topology=tpu_topology, trainer_node_selector=tuple(selectors),
        retries=retries,
        **{k: v for k, v in resources.items()
           if k in ("cpu_request", "cpu_limit", "memory_request",
                    "memory_limit", "trainer_cpu", "trainer_memory")})


def _vertex_config(image, trainer_gpus, trainer_tpus, tpu_topology, *,
                   project, region, machine_type, accelerator_type, **_):
    if trainer_gpus and trainer_tpus:
        raise pipeline_config.ConfigError(
            "the Trainer gets GPUs or TPUs, not both: set one of "
            "--trainer-gpus and --trainer-tpus.")
    if trainer_gpus or trainer_tpus:
        default_machine, default_accelerator = (
            VERTEX_GPU if trainer_gpus else VERTEX_TPU)
        machine_type = machine_type or default_machine
        accelerator_type = accelerator_type or default_accelerator
    elif accelerator_type:
        raise pipeline_config.ConfigError(
            f"--accelerator-type {accelerator_type} needs a count: "
            "--trainer-gpus N or --trainer-tpus N.")
    return pipeline_config.VertexConfig(
        image=image, project=project, region=region,
        machine_type=machine_type or _default(_VERTEX, "machine_type"),
        accelerator_type=accelerator_type,
        accelerator_count=trainer_gpus or trainer_tpus,
        tpu_topology=tpu_topology if trainer_tpus else None)


def _deploy_options(function):
    """Where a compiled package goes (shared by deploy and schedule)."""
    options = [
        click.option("--package", default=None,
                     help="The file `compile` wrote."),
        click.option("--host", envvar="KF_PIPELINES_ENDPOINT",
                     help="[kubeflow] KFP API endpoint, e.g. "
                          "http://localhost:8080 or https://HOST/pipeline."),
        click.option("--token", envvar="KF_PIPELINES_TOKEN",
                     help="[kubeflow] Bearer token for the KFP API."),
        click.option("--experiment", default=None,
                     help="[kubeflow] Experiment for the runs [schedule "
                          "default: the pipeline's name]."),
        click.option("--project", envvar="GOOGLE_CLOUD_PROJECT",
                     help="[vertex] Google Cloud project."),
        click.option("--region", default=_default(_VERTEX, "region"),
                     show_default=True, help="[vertex] Vertex AI region."),
        click.option("--service-account", default=None,
                     help="[vertex] Service account the runs use."),
        click.option("--param", "params", multiple=True,
                     metavar="NAME=VALUE",
                     help="Pipeline parameter, repeatable, e.g. epochs=10."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _where(target: str, package, host, project):
    """The package and the target's required setting, or a usage error
    naming what is missing."""
    if not package:
        raise click.UsageError("--package is needed: the file `compile` "
                               "wrote.")
    if target == "kubeflow" and not host:
        raise click.UsageError(
            "--host (or KF_PIPELINES_ENDPOINT) is needed for --target "
            "kubeflow, e.g. http://localhost:8080.")
    if target == "vertex" and not project:
        raise click.UsageError(
            "--project (or GOOGLE_CLOUD_PROJECT) is needed for --target "
            "vertex.")


@cli.command(epilog="""
\b
Examples:
  python -m pipeline deploy --target kubeflow --package pipeline.yaml \\
      --host http://localhost:8080 --experiment fashion --param epochs=10
  python -m pipeline deploy --target vertex --package pipeline.json \\
      --project my-project --region us-central1
""")
@click.option("--target", type=click.Choice(["kubeflow", "vertex"]),
              required=True)
@click.option("--run/--no-run", "start_run", default=None,
              help="[kubeflow] Also start a run [default: when "
                   "--experiment is given].")
@_deploy_options
def deploy(target, start_run, package, host, token, experiment, project,
           region, service_account, params):
    """Upload a compiled pipeline (Kubeflow: a new pipeline version, and a
    run in an experiment if asked; Vertex: submit a PipelineJob)."""
    from pipeline import deploy as deployment  # pylint: disable=import-outside-toplevel
    _where(target, package, host, project)
    try:
        pipeline = deployment.read_package(package, target)
        values = pipeline.values(params)
        if target == "kubeflow":
            if start_run and not experiment:
                experiment = pipeline.name
            if start_run is False:
                experiment = None
            result = deployment.kfp_deploy(pipeline, host, token, experiment,
                                           values)
            click.echo(f"Pipeline {result.pipeline_id}, version "
                       f"{result.version_id}")
            if result.run_id:
                click.echo(f"Run {result.run_id} in experiment "
                           f"{experiment!r}")
        else:
            name = deployment.vertex_submit(pipeline, deployment.Vertex(
                project, region, service_account), values)
            click.echo(f"PipelineJob {name}")
    except deployment.DeployError as error:
        raise click.ClickException(str(error)) from None


@cli.command(context_settings={"ignore_unknown_options": True,
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
@_deploy_options
@click.pass_context
def schedule(ctx, target, cron_expression, once_if_changed, run_now,
             max_runs, package, host, token, experiment, project, region,
             service_account, params):
    """Retrain on a schedule: here (a run at each cron tick, never two at
    once), as a KFP recurring run, or as a Vertex AI schedule (one run at a
    time, no catch-up of missed runs)."""
    from pipeline import cron  # pylint: disable=import-outside-toplevel
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
    _where(target, package, host, project)
    from pipeline import deploy as deployment  # pylint: disable=import-outside-toplevel
    try:
        pipeline = deployment.read_package(package, target)
        values = pipeline.values(params)
        if target == "kubeflow":
            result = deployment.kfp_schedule(
                pipeline, host, cron_expression,
                experiment or pipeline.name, token, values)
            click.echo(f"Recurring run {result.recurring_run_id} of pipeline "
                       f"{result.pipeline_id} version {result.version_id}")
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
    from pipeline import cron  # pylint: disable=import-outside-toplevel
    from pipeline import scheduler  # pylint: disable=import-outside-toplevel
    for name in ("package", "host", "token", "experiment", "project",
                 "service_account", "params"):
        if ctx.get_parameter_source(name) == click.core.ParameterSource \
                .COMMANDLINE:
            raise click.UsageError(
                f"--{name.replace('_', '-').rstrip('s')} does not apply to "
                "--target local.")
    if once_if_changed == bool(cron_expression):
        raise click.UsageError(
            "--target local takes --cron EXPR (run at each tick) or "
            "--once-if-changed (one check, for an external cron), not both.")
    # The run options, checked now rather than at the first tick.
    run_context = run.make_context("run", list(ctx.args))
    config = _load_config({k: v for k, v in run_context.params.items()
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
    """(changed?, message): the dataset's fingerprint now vs. the data of
    the last successful run in this output dir's ML Metadata."""
    from components.tfds_example_gen import dataset  # pylint: disable=import-outside-toplevel
    from pipeline import history  # pylint: disable=import-outside-toplevel
    from pipeline import local_runner  # pylint: disable=import-outside-toplevel
    try:
        builder = local_runner.check_dataset(config)
    except dataset.DatasetError as error:
        raise click.ClickException(str(error)) from None
    now = dataset.fingerprint(builder, config.dataset.splits)
    last = None
    if os.path.isfile(config.metadata_path):
        from ml_metadata import metadata_store  # pylint: disable=import-outside-toplevel
        store = metadata_store.MetadataStore(
            local_runner.metadata_connection(config))
        if config.name in history.pipeline_names(store):
            last = history.History(store, config.name) \
                .last_ingested_fingerprint()
    if last == now:
        return False, (f"no new data ({builder.info.full_name}, fingerprint "
                       f"{now[:12]}, as in the last successful run): not "
                       "running.")
    return True, (f"data changed ({builder.info.full_name}, fingerprint "
                  f"{now[:12]}, last successful run had "
                  f"{last[:12] if last else 'none'}): running.")


def _history_options(function):
    """Which store and pipeline `runs` and `models` read."""
    options = [
        click.option("--output-dir",
                     default=_default(_PIPELINE, "output_dir"),
                     show_default=True, envvar="PIPELINE_OUTPUT_DIR",
                     help="Read the local sqlite store under this dir."),
        click.option("--metadata", "metadata_url", default=None,
                     help="Read this store instead: sqlite:///path, "
                          "mysql://user[:password]@host:port/db or "
                          "grpc://host:port."),
        click.option("--pipeline", "pipeline_name", default=None,
                     help="Pipeline name [default: the store's only one]."),
        click.option("--limit", type=int, default=20, show_default=True,
                     help="Show this many, newest first (0: all)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print JSON instead of a table."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _history(output_dir, metadata_url, pipeline_name):
    """(History, pipeline name) for the history commands."""
    # TFMA's metric reader logs deprecation warnings; they are not news here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel("ERROR")
    from pipeline import history  # pylint: disable=import-outside-toplevel
    from pipeline import node_entrypoint  # pylint: disable=import-outside-toplevel
    if metadata_url is None:
        path = os.path.join(os.path.abspath(output_dir), "metadata.sqlite")
        if not os.path.isfile(path):
            raise click.ClickException(
                f"no ML Metadata store at {path}: nothing has run with "
                f"--output-dir {output_dir} (or pass --metadata URL).")
        metadata_url = f"sqlite://{path}"
    try:
        connection = node_entrypoint.connection_config(metadata_url)
    except node_entrypoint.MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    store = node_entrypoint.open_store(connection, metadata_url)
    names = history.pipeline_names(store)
    if pipeline_name is None:
        if len(names) != 1:
            raise click.UsageError(
                f"the store has pipelines {names or '(none)'}; choose one "
                "with --pipeline.")
        pipeline_name = names[0]
    elif pipeline_name not in names:
        raise click.UsageError(
            f"the store has no pipeline {pipeline_name!r}; it has "
            f"{names or '(none)'}.")
    return history.History(store, pipeline_name), pipeline_name


def _listing(kind, output_dir, metadata_url, pipeline_name, limit, as_json):
    """(records, pipeline name) for a table; prints JSON and returns
    (None, name) with --json."""
    import json  # pylint: disable=import-outside-toplevel
    past, name = _history(output_dir, metadata_url, pipeline_name)
    records = getattr(past, kind)()[:limit or None]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return None, name
    return records, name


def _short(fingerprint):
    return fingerprint[:12] if fingerprint else "-"


def _accuracy(value):
    return f"{value:.4f}" if value is not None else "-"


@cli.command()
@_history_options
def runs(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List past runs from ML Metadata: time, status, what each component
    did, data fingerprint, accuracy, blessing and pushed version."""
    records, name = _listing("runs", output_dir, metadata_url,
                             pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Runs of {name}, newest first:")
    click.echo(f"{'RUN':24} {'STARTED (UTC)':19}  {'STATUS':10} "
               f"{'DATA':12}  {'ACCURACY':8}  {'BLESSED':7}  PUSHED")
    for record in records:
        blessed = {True: "yes", False: "no", None: "-"}[record.blessed]
        click.echo(
            f"{record.run_id:24} {record.started:%Y-%m-%d %H:%M:%S}  "
            f"{record.status:10} {_short(record.data_fingerprint):12}  "
            f"{_accuracy(record.accuracy):8}  {blessed:7}  "
            f"{record.pushed_version or '-'}")
        by_status = {}
        for node_id, status in record.components.items():
            by_status.setdefault(status, []).append(node_id)
        click.echo("    " + "; ".join(
            f"{status}: {', '.join(nodes)}"
            for status, nodes in sorted(by_status.items())))


@cli.command()
@_history_options
def models(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List pushed models with their lineage: the run that trained each,
    its evaluation and the data it was trained on."""
    records, name = _listing("models", output_dir, metadata_url,
                             pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Models pushed by {name}, newest first:")
    click.echo(f"{'VERSION':12} {'PUSHED (UTC)':19}  {'ACCURACY':8}  "
               f"{'TRAINED IN RUN':24} DATA")
    for record in records:
        click.echo(
            f"{record.version:12} {record.pushed:%Y-%m-%d %H:%M:%S}  "
            f"{_accuracy(record.accuracy):8}  "
            f"{record.trained_in_run or '-':24} {record.dataset or '-'} "
            f"{_short(record.data_fingerprint)}")
        click.echo(f"    served from {record.destination}")
        click.echo(f"    model {record.model_uri}")
        click.echo(f"    examples {record.examples_uri or '-'}")


def format_summary(summary: dict, path: str) -> str:
    """The few lines printed at the end of a run."""
    metrics = summary.get("metrics") or {}
    lines = [f"Finished in {summary['wall_seconds']:.1f} s."]
    data = summary.get("data") or {}
    if data.get("new") is False:
        ran = [n for n, c in summary["components"].items()
               if c["status"] == "executed" and not n.endswith("_resolver")]
        lines.append("  no new data: every component cached, nothing "
                     "retrained" if not ran else
                     f"  no new data, but {', '.join(ran)} ran again "
                     "(changed settings or code)")
    if metrics.get("accuracy") is not None:
        lines.append(f"  accuracy {metrics['accuracy']:.4f} on "
                     f"{metrics.get('example_count', '?')} eval examples")
    lines.append(f"  blessed: {'yes' if summary['blessed'] else 'no'}")
    if summary["pushed_model"]:
        lines.append(f"  pushed:  {summary['pushed_model']}")
    else:
        lines.append("  pushed:  nothing new (serving "
                     f"{summary.get('serving_model') or 'nothing'})")
    if summary.get("report"):
        lines.append(f"Report:  {summary['report']}")
    lines.append(f"Summary: {path}")
    return "\n".join(lines)


@cli.command("infer-schema")
@click.option("--dataset", required=True, help="TFDS dataset name[:version].")
@click.option("--tfds-data-dir", default=None, envvar="PIPELINE_TFDS_DATA_DIR")
@click.option("--output", default=None,
              help="Where to write [default: schemas/<dataset>/schema.pbtxt "
                   "in the current directory].")
def infer_schema(dataset, tfds_data_dir, output):
    """Write a first schema for a TFDS image classification dataset, from
    the dataset's declared features (no data is read). Review and commit
    it under schemas/<dataset>/."""
    from google.protobuf import text_format  # pylint: disable=import-outside-toplevel
    from components import features  # pylint: disable=import-outside-toplevel
    from components.tfds_example_gen import dataset as tfds_dataset  # pylint: disable=import-outside-toplevel
    try:
        builder = tfds_dataset.get_builder(dataset, tfds_data_dir)
    except tfds_dataset.DatasetError as error:
        raise click.ClickException(str(error)) from None
    info = builder.info.features
    if features.IMAGE_KEY not in info or features.LABEL_KEY not in info:
        raise click.ClickException(
            f"{dataset!r} has features {sorted(info.keys())}; the pipeline "
            f"needs {features.IMAGE_KEY!r} and {features.LABEL_KEY!r}.")
    contract = features.FeatureContract(
        image_shape=tuple(info[features.IMAGE_KEY].shape),
        num_classes=info[features.LABEL_KEY].num_classes)
    output = output or os.path.join("schemas", builder.info.name,
                                    "schema.pbtxt")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(features.schema_for(contract)))
    click.echo(f"Wrote {output}")


def main():
    """Console-script entry point."""
    cli(prog_name="python -m pipeline")


if __name__ == "__main__":
    main()
