"""Choosing the tf.distribute strategy from the devices the process sees."""

import faulthandler
import os
import sys
from typing import Optional

import tensorflow as tf


# How long the workers wait for all of them to join, and how long one may
# stop answering, before training fails instead of hanging. Both are the
# TF coordination service's (which MultiWorkerMirroredStrategy runs), not a
# timeout per collective operation: `CommunicationOptions(timeout_seconds=)`
# starts a thread per collective, which TensorFlow documents as for
# debugging only; two CPU workers on Fashion-MNIST reached 30,000 threads
# in 25 s with it and aborted (2026-12-02).
JOIN_TIMEOUT_SECONDS = 300
HEARTBEAT_TIMEOUT_SECONDS = 30
# A cluster's replicas may wait for a node to be provisioned and the image
# pulled: the TFJob and Vertex replicas get this much through the
# environment.
JOIN_TIMEOUT_ENV = "PIPELINE_TRAINER_JOIN_TIMEOUT_SECONDS"
CLUSTER_JOIN_TIMEOUT_SECONDS = 1800
# The TensorFlow releases whose MultiWorkerMirroredStrategy configures the
# coordination service the way _configure_coordination does in its place.
_COORDINATION_AS_IN_TF = ("2.16",)


def make_strategy(cpu_replicas: int = 1,
                  tpu: Optional[str] = None,
                  workers: int = 1) -> tf.distribute.Strategy:
    """TPUStrategy on `tpu` when one is configured; MultiWorkerMirroredStrategy
    when there are `workers` > 1 (`TF_CONFIG` says which one this is); else
    MirroredStrategy over all GPUs, or over `cpu_replicas` logical CPUs.

    `tpu` is what TPUClusterResolver takes: `local` on a TPU VM (GKE TPU
    node pools, Vertex TPU VMs), or a TPU name or grpc:// address.

    On GPUs, memory growth is turned on so several processes can share a
    card. Without GPUs, the one physical CPU is split into `cpu_replicas`
    logical devices, which only works before TensorFlow has initialised its
    devices in this process (the Trainer executor starts a fresh process for
    that reason).

    Raises:
      RuntimeError: if `cpu_replicas` > 1 and TensorFlow's devices are
        already initialised with a different split, or `tpu` is set and
        no TPU can be reached.
    """
    if tpu:
        return _tpu_strategy(tpu)
    if workers > 1:
        return _multi_worker_strategy(workers)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        return tf.distribute.MirroredStrategy()
    if cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        wanted = [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
        if len(tf.config.get_logical_device_configuration(cpu) or []) != \
                cpu_replicas:
            try:
                tf.config.set_logical_device_configuration(cpu, wanted)
            except RuntimeError as error:
                raise RuntimeError(
                    f"cannot split the CPU into {cpu_replicas} devices: "
                    "TensorFlow is already initialised in this process. Run "
                    "training in a fresh process.") from error
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices[:cpu_replicas])
    return tf.distribute.MirroredStrategy()


def xla_can_compile(strategy: tf.distribute.Strategy) -> bool:
    """Whether XLA can compile a training step under `strategy`: not when
    several replicas run on CPUs (in one process or as workers), because
    XLA has no CPU collectives; compiling the step there aborts the process
    when it first reduces gradients (TensorFlow 2.16)."""
    if strategy.num_replicas_in_sync == 1:
        return True
    devices = getattr(strategy.extended, "worker_devices", ())
    return not all(tf.DeviceSpec.from_string(d).device_type == "CPU"
                   for d in devices)


def _tpu_strategy(tpu: str) -> tf.distribute.TPUStrategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        if tpu != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise RuntimeError(
            f"a TPU is configured (tpu={tpu!r}) but none can be reached: "
            f"{error}. Run the Trainer on a TPU VM or node pool, or train "
            "without --tpu.") from error
    return tf.distribute.TPUStrategy(resolver)


def _multi_worker_strategy(workers: int
                           ) -> tf.distribute.MultiWorkerMirroredStrategy:
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    found = len(cluster_workers(resolver))
    if found != workers:
        raise RuntimeError(
            f"{workers} Trainer workers are configured but TF_CONFIG names "
            f"{found}: run the Trainer with a TF_CONFIG for {workers} "
            "workers (the local runner and the Vertex and Kubeflow packages "
            "set it).")
    join_seconds = join_timeout_seconds()
    _configure_coordination(resolver, join_seconds)
    # Each worker waits for the others in a barrier of TensorFlow's (an
    # hour, in 2.16) that holds the GIL, so no Python thread can cut it
    # short: faulthandler's watchdog (a C thread) ends the process past
    # the join timeout, with the stack, after the line that says what it
    # waits for.
    sys.stderr.write(
        f"Trainer {resolver.task_type} {resolver.task_id}: waiting up to "
        f"{join_seconds} s for the workers "
        f"{', '.join(cluster_workers(resolver))} to join\n")
    sys.stderr.flush()
    faulthandler.dump_traceback_later(join_seconds, exit=True)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver)
    finally:
        faulthandler.cancel_dump_traceback_later()


def join_timeout_seconds() -> int:
    """How long a worker waits for the others to join: JOIN_TIMEOUT_ENV
    when set (a cluster's replicas), else JOIN_TIMEOUT_SECONDS."""
    value = os.environ.get(JOIN_TIMEOUT_ENV)
    if not value:
        return JOIN_TIMEOUT_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise RuntimeError(f"{JOIN_TIMEOUT_ENV}={value!r} is not a whole "
                           "number of seconds above 0; recompile the "
                           "package or unset it.")
    return seconds


def _configure_coordination(resolver, join_seconds: int) -> None:
    """The coordination service as MultiWorkerMirroredStrategy sets it up
    when none is (TF 2.16's collective_all_reduce_strategy.py), with
    bounded waits: a worker that missed heartbeats for
    HEARTBEAT_TIMEOUT_SECONDS fails the others, and a worker that cannot
    register with the leader (worker 0 or the chief) within `join_seconds`
    fails itself. The strategy has no public setting for either."""
    from tensorflow.tsl.protobuf import coordination_config_pb2  # pylint: disable=import-outside-toplevel
    from tensorflow.python.distribute import multi_worker_util  # pylint: disable=import-outside-toplevel
    from tensorflow.python.eager import context  # pylint: disable=import-outside-toplevel
    if not tf.__version__.startswith(_COORDINATION_AS_IN_TF):
        tf.get_logger().warning(
            "TensorFlow %s: the Trainer workers keep the strategy's own "
            "coordination timeouts (the bounded ones are written for %s).",
            tf.__version__, ", ".join(_COORDINATION_AS_IN_TF))
        return
    if resolver.task_type not in ("chief", "worker"):
        return  # As the strategy does: only they are coordinated.
    spec = resolver.cluster_spec()
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        cluster_register_timeout_in_ms=join_seconds * 1000,
        heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000,
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(
                name=job, num_tasks=spec.num_tasks(job))
            for job in ("chief", "worker") if job in spec.jobs])


def cluster_workers(resolver) -> list:
    """The addresses of the cluster's workers, chief first. Vertex names
    its first pool "chief"; the local runner has workers only."""
    cluster = resolver.cluster_spec().as_dict()
    return [*cluster.get("chief", []), *cluster.get("worker", [])]


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes what training leaves: always, but for
    the workers of a cluster other than its chief, which is the "chief"
    task where there is one (Vertex, a TFJob), else worker 0 (local)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return (resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())


def name(strategy: tf.distribute.Strategy) -> str:
    """The strategy's public name (TensorFlow's class for
    MultiWorkerMirroredStrategy is CollectiveAllReduceStrategy)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    return type(strategy).__name__
