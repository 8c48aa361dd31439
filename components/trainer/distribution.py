"""Choosing the tf.distribute strategy from the devices the process sees."""

from typing import Optional

import tensorflow as tf


def make_strategy(cpu_replicas: int = 1,
                  tpu: Optional[str] = None) -> tf.distribute.Strategy:
    """TPUStrategy on `tpu` when one is configured; else MirroredStrategy
    over all GPUs, or over `cpu_replicas` logical CPUs.

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
