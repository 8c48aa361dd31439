"""Where it runs, on Kubeflow Pipelines 2.x: a KFP pipeline package.

The TFX nodes run in three container tasks (`task_groups`): `data` (every
node the Trainer depends on), `train` (the Trainer alone, with its
accelerators, resources or TFJob) and `evaluate-and-push` (evaluation,
serving check and push). Each runs this project's own node entrypoint
(`python -m pipeline.runners.node_entrypoint`) with the compiled TFX IR
embedded, its node ids in order and the KFP run id, so a run pays a pod's
start and TensorFlow's imports three times, not once per node; tasks depend
on each other as their nodes do. TFX's Launcher, in each task, runs each
node as locally: its own execution in ML Metadata, resolved, cached and
recorded against the shared store (so KFP's own caching is off), its own
log file; a task's retry runs again only its nodes that did not finish.

Before them runs one small task, `decide` (`pipeline.runners.
decide_entrypoint`, no TensorFlow), and the TFX tasks sit in a `dsl.If` on
its output: with the pipeline parameter `only_if_changed` (which `schedule
--target kubeflow` sets) a run of the same compiled pipeline on unchanged
data stops there, its reason recorded as the task's output; otherwise the
DAG runs as it always did.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

from kfp import compiler as kfp_compiler
from kfp import dsl
from kfp import kubernetes

from components import storage
from components.trainer import distribution
from components.trainer import tfjob
from pipeline import factory
from pipeline import nodes
from pipeline.metadata import urls
from pipeline.runners import decide_entrypoint
from pipeline.runners import node_entrypoint
from pipeline_config import (ConfigError, IMAGE_SETUP_FILE, KubeflowConfig,
                             PipelineConfig)

ENTRYPOINT = ["python", "-m", "pipeline.runners.node_entrypoint"]
DECIDE_ENTRYPOINT = ["python", "-m", "pipeline.runners.decide_entrypoint"]
DECIDE_TASK = "decide"
DATA_TASK = "data"
VALIDATE_TASK = "validate-data"
TRAIN_TASK = "train"
EVALUATE_TASK = "evaluate-and-push"
TPU_RESOURCE = "google.com/tpu"
GKE_TPU_ACCELERATOR = "cloud.google.com/gke-tpu-accelerator"
GKE_TPU_TOPOLOGY = "cloud.google.com/gke-tpu-topology"


# How long a Trainer's TFJob may run (its activeDeadlineSeconds).
TFJOB_DEADLINE_SECONDS = 24 * 3600


def compile_ir(config: PipelineConfig,
               kubeflow: Optional[KubeflowConfig] = None):
    """The TFX pipeline IR as every task receives it; with TPUs, the
    Trainer uses the TPU of the GKE TPU VM it lands on; with Trainer
    workers, it trains in a TFJob of pods like its own
    (components/trainer/tfjob.py)."""
    kubeflow = kubeflow or KubeflowConfig(image="unused")
    trainer_config = {}
    if config.training.workers > 1:
        trainer_config[tfjob.CONFIG_KEY] = {
            "pod": tfjob_pod(kubeflow),
            "deadline_seconds": TFJOB_DEADLINE_SECONDS,
            "labels": {"pipeline": config.name}}
    return factory.compile_ir(factory.create_pipeline(
        config, beam_pipeline_args=config.beam.pipeline_args(
            IMAGE_SETUP_FILE, in_image=True),
        orchestration=factory.Orchestration(
            tpu="local" if kubeflow.trainer_tpus else None,
            trainer_config=trainer_config)))


def tfjob_pod(kubeflow: KubeflowConfig) -> dict:
    """The pod template of the Trainer's TFJob replicas: the Trainer
    task's own image, resources, accelerators, volumes and object store
    settings (the ML Metadata password it does not need). No Istio sidecar:
    one would keep a finished replica's pod running, and so the job."""
    needs = _trainer_needs(kubeflow)
    values, secret = _object_store_env(kubeflow)
    env = [{"name": name, "value": value} for name, value in values.items()]
    # Replicas may wait for nodes and image pulls before all have joined.
    env.append({"name": distribution.JOIN_TIMEOUT_ENV,
                "value": str(distribution.CLUSTER_JOIN_TIMEOUT_SECONDS)})
    if secret:
        name, keys = secret
        env += [{"name": variable, "valueFrom": {"secretKeyRef": {
            "name": name, "key": key}}} for key, variable in keys.items()]
    container = {"name": tfjob.CONTAINER, "image": kubeflow.image,
                 "env": env,
                 "resources": {"requests": needs.resources,
                               "limits": needs.resources},
                 "volumeMounts": [
                     {"name": f"volume-{i}", "mountPath": mount_path}
                     for i, (_, mount_path) in enumerate(kubeflow.volumes)]}
    spec = {"containers": [container],
            "volumes": [{"name": f"volume-{i}", "persistentVolumeClaim": {
                "claimName": claim}}
                for i, (claim, _) in enumerate(kubeflow.volumes)]}
    if needs.tolerations:
        spec["tolerations"] = [{"key": key, "operator": "Exists",
                                "effect": "NoSchedule"}
                               for key in needs.tolerations]
    if needs.node_selector:
        spec["nodeSelector"] = needs.node_selector
    return {"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}},
            "spec": spec}


@dataclasses.dataclass(frozen=True)
class _TrainerNeeds:
    """What the Trainer's pod asks of a node, the task's or a TFJob
    replica's: requests = limits, taints it tolerates (NoSchedule, any
    value), node labels it needs."""
    resources: Dict[str, str]
    accelerator: Optional[Tuple[str, int]]
    tolerations: Tuple[str, ...]
    node_selector: Dict[str, str]


def _trainer_needs(kubeflow: KubeflowConfig) -> _TrainerNeeds:
    resources = {"cpu": kubeflow.trainer_cpu,
                 "memory": kubeflow.trainer_memory}
    selectors = dict(kubeflow.trainer_node_selector)
    accelerator = None
    if kubeflow.trainer_gpus:
        accelerator = (kubeflow.gpu_type, kubeflow.trainer_gpus)
    if kubeflow.trainer_tpus:
        accelerator = (TPU_RESOURCE, kubeflow.trainer_tpus)
        selectors.setdefault(GKE_TPU_ACCELERATOR, kubeflow.tpu_type)
        selectors.setdefault(GKE_TPU_TOPOLOGY, kubeflow.tpu_topology)
    if accelerator:
        resources[accelerator[0]] = str(accelerator[1])
    # GKE taints accelerator nodes so that only pods asking for them land
    # there.
    return _TrainerNeeds(
        resources=resources, accelerator=accelerator,
        tolerations=(accelerator[0],) if accelerator else (),
        node_selector=dict(sorted(selectors.items())))


def dag(ir) -> Dict[str, List[str]]:
    """Node id -> upstream node ids, from the compiled IR."""
    return {n.pipeline_node.node_info.id: list(n.pipeline_node.upstream_nodes)
            for n in ir.nodes}


def task_groups(ir) -> Dict[str, List[str]]:
    """Task name -> the nodes it runs, in the IR's (topological) order: the
    Trainer alone in `train`; every node it waits for in `data`; every node
    that waits for it in `evaluate-and-push`; and in `validate-data` the
    nodes of neither kind (StatisticsGen and the ExampleValidator, which
    only the Evaluator waits for), so that the data is validated while the
    model trains, as the local runner does (launching.py)."""
    graph = dag(ir)
    before_trainer, stack = set(), list(graph[nodes.TRAINER])
    while stack:
        node_id = stack.pop()
        if node_id not in before_trainer:
            before_trainer.add(node_id)
            stack.extend(graph[node_id])
    after_trainer = set()
    for node_id in graph:  # topological: upstream nodes come first
        if any(u == nodes.TRAINER or u in after_trainer
               for u in graph[node_id]):
            after_trainer.add(node_id)
    groups = {DATA_TASK: [], VALIDATE_TASK: [], TRAIN_TASK: [],
              EVALUATE_TASK: []}
    for node_id in graph:
        groups[TRAIN_TASK if node_id == nodes.TRAINER
               else DATA_TASK if node_id in before_trainer
               else EVALUATE_TASK if node_id in after_trainer
               else VALIDATE_TASK].append(node_id)
    return {name: ids for name, ids in groups.items() if ids}


def task_dag(ir) -> Dict[str, List[str]]:
    """Task name -> the tasks holding its nodes' upstream nodes."""
    graph = dag(ir)
    groups = task_groups(ir)
    task_of = {node_id: name for name, ids in groups.items()
               for node_id in ids}
    return {name: sorted({task_of[u] for node_id in ids
                          for u in graph[node_id]} - {name})
            for name, ids in groups.items()}


def _node_component(task_name: str, node_ids: List[str], image: str,
                    ir_text: str, metadata_url: str):
    """A KFP container component that runs TFX nodes, in order."""

    def tfx_nodes(run_id: str, epochs: int, dataset_version: str):
        return dsl.ContainerSpec(
            image=image, command=ENTRYPOINT,
            args=[*(arg for node_id in node_ids
                    for arg in ("--node-id", node_id)),
                  "--run-id", run_id,
                  "--metadata", metadata_url, "--epochs", epochs,
                  "--dataset-version", dataset_version,
                  "--pipeline-ir", ir_text])

    tfx_nodes.__name__ = task_name.replace("-", "_")
    return dsl.container_component(tfx_nodes)


def _decide_component(image: str, ir_text: str, metadata_url: str):
    """The KFP container component that decides whether the DAG runs."""

    def decide(epochs: int, dataset_version: str, only_if_changed: bool,
               decision: dsl.OutputPath(str), reason: dsl.OutputPath(str)):
        return dsl.ContainerSpec(
            image=image, command=DECIDE_ENTRYPOINT,
            args=["--metadata", metadata_url, "--epochs", epochs,
                  "--dataset-version", dataset_version,
                  "--only-if-changed", only_if_changed,
                  "--decision-file", decision, "--reason-file", reason,
                  "--pipeline-ir", ir_text])

    return dsl.container_component(decide)


def check_paths(config: PipelineConfig, kubeflow: KubeflowConfig) -> None:
    """Every local path the tasks read or write lies on a volume they all
    mount (a ReadWriteMany PersistentVolumeClaim), or the pods would each
    see a folder of their own.

    Raises:
      ConfigError: naming the path and the flag that mounts one.
    """
    for flag, path in (("--pipeline-root", config.pipeline_root),
                       ("--tfds-data-dir", config.dataset.data_dir),
                       ("--tfds-manual-dir", config.dataset.manual_dir)):
        if path and "://" not in path and not os.path.isabs(path):
            raise ConfigError(
                f"{flag} {path} is a relative path, which means nothing in "
                "the tasks' pods: give the absolute path on a volume they "
                "mount (--volume), or a gs:// or s3:// URI.")
        if path and "://" not in path and not kubeflow.volume_for(path):
            mounted = ", ".join(f"{c}:{m}" for c, m in kubeflow.volumes)
            raise ConfigError(
                f"{flag} {path} lies on no volume the tasks mount"
                f"{f' (mounted: {mounted})' if mounted else ''}: add "
                f"--volume PVC_NAME:{os.path.dirname(path) or path} for a "
                "PersistentVolumeClaim that holds it, or use a gs:// or "
                "s3:// URI.")


def build(config: PipelineConfig, kubeflow: KubeflowConfig):
    """The KFP pipeline (a kfp GraphComponent) for `config`."""
    check_paths(config, kubeflow)
    ir = compile_ir(config, kubeflow)
    ir_text = node_entrypoint.encode_ir(ir)
    groups = task_groups(ir)
    components = {name: _node_component(name, node_ids, kubeflow.image,
                                        ir_text, kubeflow.metadata_url)
                  for name, node_ids in groups.items()}
    decide = _decide_component(kubeflow.image, ir_text,
                               kubeflow.metadata_url)

    @dsl.pipeline(name=config.name,
                  description=f"TFX pipeline on {config.dataset.tfds_name}",
                  pipeline_root=config.pipeline_root)
    def kfp_pipeline(epochs: int = config.training.epochs,
                     dataset_version: str = config.dataset.version or "",
                     only_if_changed: bool = False):
        decision = decide(epochs=epochs, dataset_version=dataset_version,
                          only_if_changed=only_if_changed)
        decision.set_display_name(DECIDE_TASK)
        decision.set_caching_options(False)  # It reads ML Metadata now.
        _retries(decision, kubeflow)
        _small_resources(decision, kubeflow)
        _metadata_secret(decision, kubeflow)
        _volumes(decision, kubeflow)
        _object_store(decision, kubeflow)
        with dsl.If(decision.outputs["decision"] ==
                    decide_entrypoint.RUN, name="changed"):
            tasks = {}
            for name, upstream in task_dag(ir).items():
                task = components[name](
                    run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, epochs=epochs,
                    dataset_version=dataset_version)
                task.set_display_name(name)
                task.set_caching_options(False)  # TFX caches, in MLMD
                _retries(task, kubeflow)
                trains = nodes.TRAINER in groups[name]
                if trains and config.training.workers <= 1:
                    _trainer_resources(task, kubeflow)
                elif trains:
                    # The TFJob's replicas get the Trainer's resources and
                    # the task's service account; the task only waits for
                    # them, and owns its TFJob.
                    _small_resources(task, kubeflow)
                    for variable, path in (
                            (tfjob.POD_NAME_ENV, "metadata.name"),
                            (tfjob.POD_UID_ENV, "metadata.uid"),
                            (tfjob.SERVICE_ACCOUNT_ENV,
                             "spec.serviceAccountName")):
                        kubernetes.use_field_path_as_env(
                            task, env_name=variable, field_path=path)
                else:
                    _small_resources(task, kubeflow)
                _metadata_secret(task, kubeflow)
                _volumes(task, kubeflow)
                _object_store(task, kubeflow)
                task.after(*(tasks[u] for u in upstream))
                tasks[name] = task

    return kfp_pipeline


def _retries(task, kubeflow: KubeflowConfig) -> None:
    """A failed task (a pod evicted, a store that blinked) tries again."""
    task.set_retry(num_retries=kubeflow.retries, backoff_duration="60s",
                   backoff_factor=2.0)


def _small_resources(task, kubeflow: KubeflowConfig) -> None:
    """CPU and memory of every pod but the Trainer's."""
    task.set_cpu_request(kubeflow.cpu_request)
    task.set_cpu_limit(kubeflow.cpu_limit)
    task.set_memory_request(kubeflow.memory_request)
    task.set_memory_limit(kubeflow.memory_limit)


def _metadata_secret(task, kubeflow: KubeflowConfig) -> None:
    """The ML Metadata password from a Kubernetes secret, if configured."""
    if kubeflow.metadata_secret:
        name, key = kubeflow.metadata_secret.split(":")
        kubernetes.use_secret_as_env(task, secret_name=name,
                                     secret_key_to_env={
                                         key: urls.MYSQL_PASSWORD_ENV})


def _volumes(task, kubeflow: KubeflowConfig) -> None:
    """The PersistentVolumeClaims every task mounts."""
    for claim, mount_path in kubeflow.volumes:
        kubernetes.mount_pvc(task, pvc_name=claim, mount_path=mount_path)


def _object_store_env(kubeflow: KubeflowConfig):
    """The object store's settings as env: ({name: value}, and the
    credentials' (secret name, {secret key: env name}) or None)."""
    values = {}
    if kubeflow.s3_endpoint:
        values[storage.ENDPOINT_ENV] = kubeflow.s3_endpoint
    secret = None
    if kubeflow.s3_secret_keys:
        name, access, secret_key = kubeflow.s3_secret_keys
        secret = (name, {access: storage.ACCESS_KEY_ENV,
                         secret_key: storage.SECRET_KEY_ENV})
    return values, secret


def _object_store(task, kubeflow: KubeflowConfig) -> None:
    """The S3 endpoint as env, and the S3 credentials from a secret."""
    values, secret = _object_store_env(kubeflow)
    for name, value in values.items():
        task.set_env_variable(name, value)
    if secret:
        kubernetes.use_secret_as_env(task, secret_name=secret[0],
                                     secret_key_to_env=secret[1])


def _trainer_resources(task, kubeflow: KubeflowConfig) -> None:
    """CPU, memory and accelerators of the Trainer's pod."""
    needs = _trainer_needs(kubeflow)
    task.set_cpu_request(kubeflow.trainer_cpu)
    task.set_cpu_limit(kubeflow.trainer_cpu)
    task.set_memory_request(kubeflow.trainer_memory)
    task.set_memory_limit(kubeflow.trainer_memory)
    if needs.accelerator:
        task.set_accelerator_type(needs.accelerator[0])
        task.set_accelerator_limit(needs.accelerator[1])
    for key in needs.tolerations:
        kubernetes.add_toleration(task, key=key, operator="Exists",
                                  effect="NoSchedule")
    for label, value in needs.node_selector.items():
        kubernetes.add_node_selector(task, label_key=label, label_value=value)


def compile_package(config: PipelineConfig, kubeflow: KubeflowConfig,
                    output: str) -> None:
    """Writes the KFP pipeline package (YAML) to `output`."""
    kfp_compiler.Compiler().compile(build(config, kubeflow), output)
