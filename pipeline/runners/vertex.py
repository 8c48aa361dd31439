"""Where it runs, on Vertex AI Pipelines: a PipelineJob JSON.

Compiled by TFX's own `KubeflowV2DagRunner`, whose IR Vertex runs: each
node is a task of the container image running TFX's
`kubeflow_v2_run_executor`, Vertex keeps the ML Metadata and does the
caching, and the Trainer runs as a Vertex custom job on the configured
accelerators (see `factory._trainer_config`).
"""

import json
import os
import tempfile

from tfx import v1 as tfx

from components.trainer import distribution
from components.trainer import vertex as vertex_trainer
from pipeline import factory
from pipeline_config import (ConfigError, IMAGE_SETUP_FILE, PipelineConfig,
                             VertexConfig)


def _check_accelerator(vertex: VertexConfig) -> None:
    """One clear error for an accelerator Vertex does not know."""
    if not vertex.accelerator_type:
        return
    from google.cloud.aiplatform_v1.types import AcceleratorType  # pylint: disable=import-outside-toplevel
    known = [a.name for a in AcceleratorType
             if a.name != "ACCELERATOR_TYPE_UNSPECIFIED"]
    if vertex.accelerator_type not in known:
        raise ConfigError(
            f"accelerator type {vertex.accelerator_type!r} is not a Vertex "
            f"AI accelerator; use one of {', '.join(sorted(known))}.")


def orchestration(vertex: VertexConfig,
                  workers: int = 1) -> factory.Orchestration:
    """What Vertex needs: TFX's resolver strategies only, and the Trainer
    as a Vertex custom job (worker pool: machine, accelerator, image) when
    it has accelerators. With `workers` > 1 the job has a chief pool of
    one replica and a worker pool of `workers` - 1, each replica with the
    same machine and accelerators; Vertex gives every replica its
    TF_CONFIG (workerpool0 is the chief)."""
    if not vertex.accelerator_type:
        return factory.Orchestration(custom_resolvers=False,
                                     custom_drivers=False)
    machine_spec = {"machine_type": vertex.machine_type,
                    "accelerator_type": vertex.accelerator_type,
                    "accelerator_count": vertex.accelerator_count}
    if vertex.tpu_topology:
        machine_spec["tpu_topology"] = vertex.tpu_topology
    cloud = tfx.extensions.google_cloud_ai_platform
    return factory.Orchestration(
        trainer_class=vertex_trainer.Trainer,
        trainer_config={
            cloud.ENABLE_VERTEX_KEY: True,
            cloud.VERTEX_REGION_KEY: vertex.region,
            cloud.TRAINING_ARGS_KEY: {
                # Without one, the executor takes the pipeline's project.
                **({"project": vertex.project} if vertex.project else {}),
                "worker_pool_specs": [
                    {"machine_spec": machine_spec,
                     "replica_count": replicas,
                     "container_spec": {"image_uri": vertex.image, "env": [{
                         "name": distribution.JOIN_TIMEOUT_ENV,
                         "value": str(
                             distribution.CLUSTER_JOIN_TIMEOUT_SECONDS)}]}}
                    for replicas in ([1, workers - 1] if workers > 1
                                     else [1])],
            },
        },
        tpu="local" if vertex.on_tpu else None,
        custom_resolvers=False, custom_drivers=False)


def compile_job(config: PipelineConfig, vertex: VertexConfig,
                output: str) -> dict:
    """Writes the PipelineJob JSON to `output` and returns it."""
    _check_accelerator(vertex)
    if config.training.warm_start:
        raise ConfigError(
            "--warm-start is not available on Vertex: it resolves its base "
            "model with a custom resolver strategy, and Vertex runs only "
            "TFX's built-in ones. Compile without --warm-start.")
    tfx_pipeline = factory.create_pipeline(
        config, beam_pipeline_args=config.beam.pipeline_args(
            IMAGE_SETUP_FILE, in_image=True),
        orchestration=orchestration(vertex, config.training.workers))
    # KubeflowV2DagRunner writes into a directory; write beside `output` and
    # move into place so a failed compile leaves no partial file.
    directory = os.path.dirname(os.path.abspath(output))
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                default_image=vertex.image),
            output_dir=staging, output_filename="pipeline.json")
        runner.run(tfx_pipeline)
        compiled = os.path.join(staging, "pipeline.json")
        with open(compiled, encoding="utf-8") as f:
            job = json.load(f)
        uncache(job, factory.uncached_nodes(tfx_pipeline))
        with open(compiled, "w", encoding="utf-8") as f:
            json.dump(job, f, indent=2, sort_keys=True)
        os.replace(compiled, output)
    return job


def uncache(job: dict, node_ids) -> None:
    """Turns Vertex's cache off for the tasks of `node_ids`.

    Vertex runs no custom drivers, so TfdsExampleGen's cache key lacks the
    data's fingerprint: a cached ExampleGen would hide new data. Uncached,
    it reads the data in every run, and its new Examples artifact makes
    every task after it run too (Vertex's cache key names the input
    artifacts): an unchanged-data run on Vertex costs a full run
    (docs/vertex.md).
    """
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    for node_id in node_ids:
        if node_id not in tasks:
            raise ValueError(f"no task {node_id!r} in the compiled job; it "
                             f"has {sorted(tasks)}.")
        tasks[node_id]["cachingOptions"] = {"enableCache": False}
