"""`compile`: a Kubeflow Pipelines package or a Vertex AI PipelineJob."""

import os

import click

import pipeline_config
from pipeline.commands import options
from pipeline.commands.options import KUBEFLOW, VERTEX, default

KUBEFLOW_ONLY = ("metadata_url", "metadata_secret", "gpu_type", "tpu_type",
                 "node_selectors", "retries", "cpu_request", "cpu_limit",
                 "memory_request", "memory_limit", "trainer_cpu",
                 "trainer_memory", "volumes", "s3_endpoint", "s3_secret")
VERTEX_ONLY = ("project", "region", "machine_type", "accelerator_type")
# Vertex defaults by accelerator kind: (machine type, accelerator type).
VERTEX_GPU = ("n1-standard-8", "NVIDIA_TESLA_T4")
VERTEX_TPU = ("ct5lp-hightpu-4t", "TPU_V5_LITEPOD")


@click.command("compile", epilog="""
\b
Examples:
  python -m pipeline compile --target kubeflow --output pipeline.yaml \\
      --image gcr.io/my-project/tfds-pipeline:0.1.0 \\
      --pipeline-root gs://my-bucket/tfds-pipeline \\
      --metadata mysql://mlmd@mysql.kubeflow:3306/metadb \\
      --metadata-secret mlmd-mysql:password --trainer-gpus 1
  python -m pipeline compile --target kubeflow --output pipeline.yaml \\
      --image registry.example/tfds-pipeline:0.1.0 \\
      --volume pipeline-data:/data --pipeline-root /data/root \\
      --tfds-data-dir /data/tensorflow_datasets \\
      --metadata mysql://mlmd@mysql.kubeflow:3306/metadb \\
      --metadata-secret mlmd-mysql:password
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
              default=default(KUBEFLOW, "trainer_gpus"), show_default=True,
              help="GPUs for the Trainer.")
@click.option("--trainer-tpus", type=int,
              default=default(KUBEFLOW, "trainer_tpus"), show_default=True,
              help="TPU chips for the Trainer (GKE TPU node pool or Vertex "
                   "TPU VM); the Trainer then uses TPUStrategy.")
@click.option("--tpu-topology",
              default=default(KUBEFLOW, "tpu_topology"), show_default=True)
@click.option("--metadata", "metadata_url",
              default=default(KUBEFLOW, "metadata_url"),
              show_default=True,
              help="[kubeflow] ML Metadata: grpc://host:port or "
                   "mysql://user@host:port/database (no password: see "
                   "--metadata-secret).")
@click.option("--metadata-secret", default=None,
              help="[kubeflow] NAME:KEY of a Kubernetes secret holding the "
                   "MySQL password (given to every task as "
                   "MLMD_MYSQL_PASSWORD).")
@click.option("--gpu-type",
              default=default(KUBEFLOW, "gpu_type"), show_default=True,
              help="[kubeflow] Kubernetes resource name of the GPUs.")
@click.option("--tpu-type",
              default=default(KUBEFLOW, "tpu_type"), show_default=True,
              help="[kubeflow] GKE TPU accelerator (node selector value).")
@click.option("--trainer-node-selector", "node_selectors", multiple=True,
              metavar="LABEL=VALUE",
              help="[kubeflow] Node selector for the Trainer's pod, "
                   "repeatable, e.g. "
                   "cloud.google.com/gke-accelerator=nvidia-tesla-t4.")
@click.option("--volume", "volumes", multiple=True,
              metavar="PVC_NAME:/MOUNT/PATH",
              help="[kubeflow] Mount this PersistentVolumeClaim into every "
                   "task, repeatable; a local --pipeline-root or "
                   "--tfds-data-dir must lie under one (e.g. "
                   "pipeline-data:/data with --pipeline-root "
                   "/data/root).")
@click.option("--s3-endpoint", default=None,
              help="[kubeflow] The endpoint of s3:// locations, e.g. "
                   "http://minio-service.kubeflow:9000 (KFP's MinIO), set "
                   "as AWS_ENDPOINT_URL in every task [default: AWS S3].")
@click.option("--s3-secret", default=None,
              metavar="NAME[:ACCESS_KEY_KEY:SECRET_KEY_KEY]",
              help="[kubeflow] Kubernetes secret with the S3 credentials, "
                   "given to every task as AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY (keys accesskey and secretkey "
                   "by default, as in KFP's mlpipeline-minio-artifact).")
@click.option("--retries", type=int,
              default=default(KUBEFLOW, "retries"), show_default=True,
              help="[kubeflow] Retries of a failed task, with backoff.")
@click.option("--cpu-request", default=default(KUBEFLOW, "cpu_request"),
              show_default=True, help="[kubeflow] Every task but the "
                                      "Trainer.")
@click.option("--cpu-limit", default=default(KUBEFLOW, "cpu_limit"),
              show_default=True)
@click.option("--memory-request",
              default=default(KUBEFLOW, "memory_request"),
              show_default=True)
@click.option("--memory-limit", default=default(KUBEFLOW, "memory_limit"),
              show_default=True)
@click.option("--trainer-cpu", default=default(KUBEFLOW, "trainer_cpu"),
              show_default=True, help="[kubeflow] The Trainer's CPU "
                                      "(request and limit).")
@click.option("--trainer-memory",
              default=default(KUBEFLOW, "trainer_memory"),
              show_default=True)
@click.option("--project", default=None, envvar="GOOGLE_CLOUD_PROJECT",
              help="[vertex] Google Cloud project.")
@click.option("--region", default=default(VERTEX, "region"),
              show_default=True, help="[vertex] Vertex AI region.")
@click.option("--machine-type", default=None,
              help=f"[vertex] The Trainer's machine [default: "
                   f"{VERTEX_GPU[0]} with GPUs, {VERTEX_TPU[0]} with TPUs].")
@click.option("--accelerator-type", default=None,
              help=f"[vertex] Vertex accelerator [default: {VERTEX_GPU[1]} "
                   f"with GPUs, {VERTEX_TPU[1]} with TPUs].")
@options.pipeline_options
@click.pass_context
def compile_command(ctx, target, output, image, pipeline_root, trainer_gpus,
                    trainer_tpus, tpu_topology, **settings):
    """Compile the pipeline for Kubeflow Pipelines or Vertex AI Pipelines.

    Options marked [kubeflow] or [vertex] apply to that target only.
    """
    from pipeline.metadata import urls  # pylint: disable=import-outside-toplevel
    try:
        # Refused for either target: a password on the command line of a
        # compile ends up in shell histories and CI logs, if not the package.
        urls.parse_for_package(settings["metadata_url"])
    except urls.MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    _check_output(output, target)
    other = VERTEX_ONLY if target == "kubeflow" else KUBEFLOW_ONLY
    for name, flag in options.given(ctx, other):
        if name == "metadata_url":
            # Part of the one compile interface for both targets.
            click.echo(f"Note: {flag} is not used for --target vertex; "
                       "Vertex AI keeps its own ML Metadata.", err=True)
            continue
        raise click.UsageError(f"{flag} does not apply to --target {target}.")
    target_options = {name: settings.pop(name)
                      for name in KUBEFLOW_ONLY + VERTEX_ONLY}
    from components import features  # pylint: disable=import-outside-toplevel
    if settings["beam_runner"] == "flink" and not settings["flink_worker_pool"]:
        raise click.UsageError(
            "--beam-runner flink for a compiled package needs "
            "--flink-worker-pool HOST:PORT (the worker pools beside the "
            "TaskManagers, e.g. localhost:50000): the cluster cannot reach "
            "SDK workers inside a task's pod (LOOPBACK).")
    if settings["beam_worker_image"] is None and not any(
            arg.startswith("--sdk_container_image")
            for arg in settings["beam_args"]) and (
            settings["beam_runner"] == "dataflow"
            or settings["flink_worker_pool"]):
        # Remote Beam workers run the tasks' own image unless told.
        settings["beam_worker_image"] = image
    try:
        config = options.config_from_options(settings,
                                             remote_root=pipeline_root)
        if target == "kubeflow":
            from pipeline.runners import kubeflow  # pylint: disable=import-outside-toplevel
            kubeflow.compile_package(config, _kubeflow_config(
                image, trainer_gpus, trainer_tpus, tpu_topology,
                **target_options), output)
        else:
            from pipeline.runners import vertex  # pylint: disable=import-outside-toplevel
            vertex.compile_job(config, _vertex_config(
                image, trainer_gpus, trainer_tpus, tpu_topology,
                **target_options), output)
    except pipeline_config.ConfigError as error:
        raise click.UsageError(str(error)) from None
    except features.SchemaError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Wrote {output}")


def _check_output(output: str, target: str) -> None:
    """The package can be written where asked, before compiling."""
    directory = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output):
        raise click.UsageError(f"--output {output!r} is a directory; name "
                               "the file to write, e.g. pipeline.yaml.")
    if not os.path.isdir(directory):
        raise click.UsageError(f"--output {output!r}: folder {directory!r} "
                               "does not exist; create it first.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise click.UsageError(f"--output {output!r}: folder {directory!r} "
                               "is not writable.")
    if target == "kubeflow" and not output.endswith((".yaml", ".yml")):
        raise click.UsageError(f"--output {output!r}: a Kubeflow package is "
                               "YAML; name it *.yaml.")


def _kubeflow_config(image, trainer_gpus, trainer_tpus, tpu_topology, *,
                     metadata_url, metadata_secret, gpu_type, tpu_type,
                     node_selectors, retries, volumes, s3_endpoint, s3_secret,
                     **resources):
    selectors = _pairs(node_selectors, "=", "node selector", "LABEL=VALUE",
                       "cloud.google.com/gke-accelerator=nvidia-tesla-t4")
    mounts = _pairs(volumes, ":", "volume", "PVC_NAME:/MOUNT/PATH",
                    "pipeline-data:/data")
    return pipeline_config.KubeflowConfig(
        image=image, metadata_url=metadata_url,
        metadata_secret=metadata_secret, trainer_gpus=trainer_gpus,
        gpu_type=gpu_type, trainer_tpus=trainer_tpus, tpu_type=tpu_type,
        tpu_topology=tpu_topology, trainer_node_selector=selectors,
        retries=retries, volumes=mounts, s3_endpoint=s3_endpoint,
        s3_secret=s3_secret,
        **{k: v for k, v in resources.items()
           if k in ("cpu_request", "cpu_limit", "memory_request",
                    "memory_limit", "trainer_cpu", "trainer_memory")})


def _pairs(values, separator, what, form, example):
    """`A<separator>B` flag values -> (A, B) pairs, each checked."""
    pairs = []
    for value in values:
        first, found, second = value.partition(separator)
        if not (first and found and second):
            raise pipeline_config.ConfigError(
                f"{what} {value!r} is not {form}, e.g. {example}.")
        pairs.append((first, second))
    return tuple(pairs)


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
        machine_type=machine_type or default(VERTEX, "machine_type"),
        accelerator_type=accelerator_type,
        accelerator_count=trainer_gpus or trainer_tpus,
        tpu_topology=tpu_topology if trainer_tpus else None)
