"""What the commands share: the pipeline options, read into the config.

Every option's default is read from its one home, the config dataclasses in
`pipeline_config`.
"""

import dataclasses

import click

import pipeline_config

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


PIPELINE = pipeline_config.PipelineConfig
DATASET = pipeline_config.DatasetConfig
TRAINING = pipeline_config.TrainingConfig
EVALUATION = pipeline_config.EvaluationConfig
BEAM = pipeline_config.BeamConfig
KUBEFLOW = pipeline_config.KubeflowConfig
VERTEX = pipeline_config.VertexConfig


def default(config_class, field: str):
    """A setting's default, from its one home in pipeline_config."""
    return {f.name: f.default for f in dataclasses.fields(config_class)}[field]


def pipeline_options(function):
    """The options that describe one pipeline (shared by its commands)."""
    decorators = [
        click.option("--output-dir",
                     default=default(PIPELINE, "output_dir"),
                     show_default=True,
                     envvar="PIPELINE_OUTPUT_DIR",
                     help="Artifacts, ML Metadata, served models and logs "
                          "go here."),
        click.option("--dataset",
                     default=default(DATASET, "name"), show_default=True,
                     help="TFDS dataset name."),
        click.option("--dataset-version", default=None,
                     help="TFDS version, e.g. 3.0.1 [default: the "
                          "dataset's default]."),
        click.option("--dataset-config", default=None,
                     help="TFDS builder config, for datasets that have "
                          "several."),
        click.option("--train-split",
                     default=default(DATASET, "train_split"),
                     show_default=True,
                     help="TFDS split (or slice, e.g. 'train[:10%]') to "
                          "train on."),
        click.option("--eval-split",
                     default=default(DATASET, "eval_split"),
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
                     default=default(TRAINING, "epochs"), show_default=True),
        click.option("--batch-size", type=int,
                     default=default(TRAINING, "batch_size_per_replica"),
                     show_default=True,
                     help="Examples per replica per step."),
        click.option("--cpu-replicas", type=int,
                     default=default(TRAINING, "cpu_replicas"),
                     show_default=True,
                     help="Without GPUs: split the CPU into this many "
                          "MirroredStrategy replicas."),
        click.option("--trainer-workers", type=int,
                     default=default(TRAINING, "workers"),
                     show_default=True,
                     help="Trainer workers under MultiWorkerMirroredStrategy"
                          " (locally: processes of this machine)."),
        click.option("--seed", type=int,
                     default=default(TRAINING, "seed"), show_default=True,
                     help="Random seed of the Trainer."),
        click.option("--shuffle-buffer", type=int,
                     default=default(TRAINING, "shuffle_buffer"),
                     show_default=True,
                     help="Training shuffle buffer; 0 keeps TFDS's order "
                          "(already shuffled), as the seed script does."),
        click.option("--validate-every", type=int,
                     default=default(TRAINING, "validate_every"),
                     show_default=True,
                     help="Also evaluate on the eval split every this many "
                          "epochs while training (TensorBoard curves); 0: "
                          "only the Evaluator evaluates."),
        click.option("--cache-budget-mib", type=int,
                     default=default(TRAINING, "cache_budget_mib"),
                     show_default=True,
                     help="Keep the transformed training split in memory "
                          "between epochs up to this size; larger splits "
                          "are read again every epoch."),
        click.option("--xla/--no-xla", "jit_compile",
                     default=default(TRAINING, "jit_compile"),
                     show_default=True,
                     help="Compile the training step with XLA (the same "
                          "computation, fused; slower on CPUs, try it on "
                          "GPUs; off by itself for several CPU replicas)."),
        click.option("--warm-start/--no-warm-start",
                     default=default(TRAINING, "warm_start"),
                     show_default=True,
                     help="Start training from the last blessed model "
                          "trained on other data."),
        click.option("--tpu", default=default(TRAINING, "tpu"),
                     help="Train under TPUStrategy on this TPU: 'local' on "
                          "a TPU VM, or a TPU name or grpc:// address "
                          "[default: GPUs if visible, else the CPU]."),
        click.option("--min-accuracy", type=float,
                     default=default(EVALUATION, "min_accuracy"),
                     show_default=True,
                     help="Bless only models at least this accurate."),
        click.option("--max-accuracy-drop", type=float,
                     default=default(EVALUATION, "max_accuracy_drop"),
                     show_default=True,
                     help="Bless only if accuracy is at most this much below "
                          "the last blessed model's."),
        click.option("--max-class-accuracy-drop", type=float,
                     default=default(EVALUATION, "max_class_accuracy_drop"),
                     show_default=True,
                     help="The same, for each class's accuracy."),
        click.option("--beam-workers", type=int,
                     default=default(BEAM, "direct_num_workers"),
                     show_default=True,
                     help="Beam DirectRunner workers (0: one per core)."),
        click.option("--beam-mode",
                     default=default(BEAM, "direct_running_mode"),
                     show_default=True,
                     type=click.Choice(pipeline_config.RUNNING_MODES),
                     help="Beam DirectRunner running mode."),
        click.option("--beam-runner",
                     default=default(BEAM, "runner"), show_default=True,
                     type=click.Choice(pipeline_config.BEAM_RUNNERS),
                     help="Where the Beam steps run (ExampleGen, "
                          "StatisticsGen, Transform, Evaluator): "
                          "docs/beam-runners.md."),
        click.option("--flink-master", default=None,
                     help="Flink: the cluster's REST address, HOST:PORT."),
        click.option("--flink-job-server-jar", default=None,
                     help="Flink: Beam's Flink job server jar [default: the "
                          "one `make flink-job-server` builds]."),
        click.option("--flink-job-endpoint", default=None,
                     help="Flink: HOST:PORT of a Beam Flink job server "
                          "already running (its job port) instead of one "
                          "started from the jar per step; compiled "
                          "packages need it."),
        click.option("--flink-worker-pool", default=None,
                     help="Flink: HOST:PORT of the Beam worker pools "
                          "(EXTERNAL environment) [default: LOOPBACK, the "
                          "SDK workers in this process]."),
        click.option("--flink-parallelism", type=int,
                     default=default(BEAM, "parallelism"), show_default=True,
                     help="Flink: each job's parallelism (0: the cluster's "
                          "default)."),
        click.option("--beam-worker-image", default=None,
                     help="The image remote Beam workers run "
                          "(--sdk_container_image): this project's image."),
        click.option("--dataflow-project", default=None,
                     help="Dataflow: the Google Cloud project."),
        click.option("--dataflow-region", default=None,
                     help="Dataflow: the region, e.g. us-central1."),
        click.option("--dataflow-temp-location", default=None,
                     help="Dataflow: a gs:// URI for staged and temporary "
                          "files."),
        click.option("--beam-arg", "beam_args", multiple=True,
                     help="Extra Beam pipeline arg, repeatable."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def config_from_options(options: dict, remote_root=None, artifact_root=None
                        ) -> pipeline_config.PipelineConfig:
    """Builds the validated config from the shared pipeline options
    (`remote_root`: the pipeline root of a compiled package;
    `artifact_root`: a local run's root on an object store)."""
    return pipeline_config.PipelineConfig(
        output_dir=options["output_dir"], remote_root=remote_root,
        artifact_root=artifact_root,
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
            workers=options["trainer_workers"],
            seed=options["seed"],
            shuffle_buffer=options["shuffle_buffer"],
            validate_every=options["validate_every"],
            cache_budget_mib=options["cache_budget_mib"],
            jit_compile=options["jit_compile"],
            warm_start=options["warm_start"],
            tpu=options["tpu"]),
        evaluation=pipeline_config.EvaluationConfig(
            min_accuracy=options["min_accuracy"],
            max_accuracy_drop=options["max_accuracy_drop"],
            max_class_accuracy_drop=options["max_class_accuracy_drop"]),
        beam=pipeline_config.BeamConfig(
            runner=options["beam_runner"],
            direct_num_workers=options["beam_workers"],
            direct_running_mode=options["beam_mode"],
            flink_master=options["flink_master"],
            flink_job_server_jar=options["flink_job_server_jar"],
            flink_job_endpoint=options["flink_job_endpoint"],
            flink_worker_pool=options["flink_worker_pool"],
            parallelism=options["flink_parallelism"],
            worker_image=options["beam_worker_image"],
            dataflow_project=options["dataflow_project"],
            dataflow_region=options["dataflow_region"],
            dataflow_temp_location=options["dataflow_temp_location"],
            extra_args=tuple(options["beam_args"])))


def load_config(options: dict, artifact_root=None
                ) -> pipeline_config.PipelineConfig:
    try:
        return config_from_options(options, artifact_root=artifact_root)
    except pipeline_config.ConfigError as error:
        raise click.UsageError(str(error)) from None


def given(ctx: click.Context, names) -> list:
    """(parameter name, flag) of those of `names` given on the command line,
    to refuse (or note) options that do not apply to the chosen target."""
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    return [(name, flags[name]) for name in names
            if ctx.get_parameter_source(name)
            == click.core.ParameterSource.COMMANDLINE]


def store_options(function):
    """Which ML Metadata store and pipeline a command reads (`runs`,
    `models`) or records in (`rollback`)."""
    decorators = [
        click.option("--output-dir",
                     default=default(PIPELINE, "output_dir"),
                     show_default=True, envvar="PIPELINE_OUTPUT_DIR",
                     help="Use the local sqlite store under this dir."),
        click.option("--metadata", "metadata_url", default=None,
                     help="Use this store instead: sqlite:///path, "
                          "mysql://user@host:port/db (password in "
                          "MLMD_MYSQL_PASSWORD) or grpc://host:port (the "
                          "store the pipeline's Kubeflow tasks use)."),
        click.option("--pipeline", "pipeline_name", default=None,
                     help="Pipeline name [default: the store's only one]."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def history_options(function):
    """Which store and pipeline `runs` and `models` read, and how much."""
    decorators = [
        store_options,
        click.option("--limit", type=click.IntRange(min=0), default=20,
                     show_default=True,
                     help="Show this many, newest first (0: all)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print JSON instead of a table."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def history_store(output_dir, metadata_url, pipeline_name,
                  read_only=True):
    """(store, pipeline name) for `runs`, `models` and `rollback`; opened
    read-only unless the command records something."""
    from pipeline.metadata import runs  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import urls  # pylint: disable=import-outside-toplevel
    try:
        url = (urls.parse(metadata_url) if metadata_url is not None else
               urls.local_sqlite(pipeline_config.metadata_path(output_dir)))
        store = metadata_store.open_store(url, read_only=read_only)
        names = runs.pipeline_names(store)
    except urls.MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    except metadata_store.StoreError as error:
        hint = ("" if metadata_url is not None else
                f" (--output-dir {output_dir}; or pass --metadata URL)")
        raise click.ClickException(f"{error}{hint}") from None
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
    return store, pipeline_name


def history_records(kind, output_dir, metadata_url, pipeline_name, limit,
                    as_json):
    """(records, pipeline name) for a table, `kind` naming the
    `metadata.history` function; prints JSON and returns (None, name) with
    --json."""
    import json  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import history  # pylint: disable=import-outside-toplevel
    store, name = history_store(output_dir, metadata_url, pipeline_name)
    records = getattr(history, kind)(store, name, limit or None)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return None, name
    return records, name


def short(fingerprint) -> str:
    """A fingerprint as listings show it."""
    return fingerprint[:12] if fingerprint else "-"


def accuracy(value) -> str:
    """An accuracy as listings show it."""
    return f"{value:.4f}" if value is not None else "-"


def serving_base(output_dir, metadata_url, pipeline_name) -> str:
    """The serving directory the pipeline pushed to, from ML Metadata (the
    parent of the last push's destination)."""
    from pipeline.metadata import models  # pylint: disable=import-outside-toplevel
    store, name = history_store(output_dir, metadata_url, pipeline_name)
    last = models.last_pushed(store, name)
    if last is None:
        raise click.ClickException(
            f"{name} has pushed no model yet (so it has no serving "
            "directory); pass --serving-dir to check one.")
    return last.serving_dir
