"""The Trainer's `run_fn`: the seed's `model.fit`, under MirroredStrategy.

Hyper-parameters arrive in `fn_args.custom_config` as `settings.TrainerSettings`
(set by the pipeline from the config, with `example_counts` from the
executor); `cache_budget_mib` holds the training and eval splits together.
With `warm_start`, the pipeline
gives the Trainer a base model (see warm_start.py) and training starts from
its weights.
"""

import json
import os
import tempfile
import time
from typing import Callable, Optional

from absl import logging

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from components import features
from components import autograph
from components.trainer import chunked
from components.trainer import distribution
from components.trainer import record as training_record
from components.trainer import settings as trainer_settings
from components.trainer import model as model_lib
from components.trainer import signatures
from components.trainer import warm_start as warm_start_lib

IMAGE_XF = features.transformed_name(features.IMAGE_KEY)
LABEL_XF = features.transformed_name(features.LABEL_KEY)
_READ_BATCH = 1024


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model and exports it with its serving signatures."""
    params = trainer_settings.read(fn_args.custom_config)
    autograph.skip_library_conversion()
    tf.keras.utils.set_random_seed(params.seed)
    strategy = distribution.make_strategy(params.cpu_replicas, params.tpu,
                                          params.workers)
    if not distribution.is_chief(strategy):
        # Every worker saves (saving is collective); only the chief's
        # copies are kept.
        with tempfile.TemporaryDirectory() as scratch:
            _train(fn_args, params, strategy,
                   serving_model_dir=os.path.join(scratch, "model"),
                   model_run_dir=os.path.join(scratch, "model_run"))
        return
    _train(fn_args, params, strategy, fn_args.serving_model_dir,
           fn_args.model_run_dir)


def _train(fn_args: FnArgs, params, strategy, serving_model_dir: str,
           model_run_dir: str) -> None:
    """Trains under `strategy`, exports to `serving_model_dir` and writes
    TensorBoard logs and the training record to `model_run_dir`."""
    global_batch = (params.batch_size_per_replica
                    * strategy.num_replicas_in_sync)
    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    contract = features.load_contract(fn_args.schema_path)

    tft_layer = transform_output.transform_features_layer()
    raw_schema = transform_output.raw_metadata.schema
    on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    counts = params.example_counts or {}
    # Bytes a transformed example takes in memory: float32 pixels, a label.
    budget = CacheBudget(params.cache_budget_mib,
                         4 * contract.image_bytes + 8)
    jit_compile = (params.jit_compile
                   and distribution.xla_can_compile(strategy))
    # One replica takes its training batches in chunks (chunked.py).
    chunk_batch = (global_batch
                   if chunked.applies(strategy, params.workers, jit_compile)
                   else None)
    train = _dataset(fn_args.train_files, fn_args.data_accessor, raw_schema,
                     tft_layer,
                     global_batch * (params.steps_per_execution
                                     if chunk_batch else 1),
                     counts.get("train"),
                     cache=budget.take,
                     shuffle_buffer=params.shuffle_buffer,
                     static_shapes=on_tpu)
    validation = {}
    if params.validate_every:
        validation = {
            "validation_data": _dataset(
                fn_args.eval_files, fn_args.data_accessor, raw_schema,
                tft_layer, global_batch, counts.get("eval"),
                cache=budget.take,
                static_shapes=on_tpu),
            "validation_freq": params.validate_every}
    with strategy.scope():
        model = model_lib.build_model(
            contract.image_shape, contract.num_classes,
            steps_per_execution=params.steps_per_execution,
            jit_compile=jit_compile,
            chunk_batch_size=chunk_batch)
        warm_start = _warm_start(model, fn_args.base_model)
    started = time.monotonic()
    clock = EpochClock()
    history = model.fit(
        train, epochs=params.epochs, **validation,
        callbacks=[tf.keras.callbacks.TensorBoard(
            log_dir=model_run_dir, update_freq="epoch"), clock],
        verbose=2)
    seconds = {"fit": time.monotonic() - started}
    started = time.monotonic()
    signatures.export(model, transform_output, contract.image_shape,
                      serving_model_dir)
    warm_start_lib.save(model, serving_model_dir)
    seconds["export"] = time.monotonic() - started
    _write_record(model_run_dir, strategy, global_batch,
                  history.history, warm_start, seconds, clock.seconds,
                  settings={k: v for k, v in params.to_json().items()
                            if k != "example_counts"},
                  model=model_lib.describe(model))


def _warm_start(model: tf.keras.Model, base_model: Optional[str]) -> dict:
    """Starts `model` from the base model's weights, when there is one.

    A base model that cannot be loaded (trained before weights were kept,
    or with another architecture) is recorded and training starts afresh:
    warm starting saves time, it must not stop a scheduled retraining.
    """
    if not base_model:
        return {"from": None}
    try:
        return {"from": warm_start_lib.load(model, base_model)}
    except (OSError, ValueError, tf.errors.OpError) as error:
        logging.warning("warm start from %s failed, training from scratch: "
                        "%s", base_model, error)
        return {"from": None, "failed": f"{base_model}: {error}"}


class CacheBudget:
    """Memory the cached splits may take together."""

    def __init__(self, mib: int, example_bytes: int):
        self.left = mib * 2**20
        self.example_bytes = example_bytes

    def take(self, examples: int) -> bool:
        """Whether `examples` fit in what is left; if so, they take it."""
        size = examples * self.example_bytes
        if size > self.left:
            return False
        self.left -= size
        return True


def _dataset(file_pattern, data_accessor, raw_schema, tft_layer, batch_size,
             examples: Optional[int], cache: Callable[[int], bool],
             shuffle_buffer=0, static_shapes=False) -> tf.data.Dataset:
    """Raw examples -> Transform graph -> (image, label) batches.

    Transform does not materialise transformed examples (they would be four
    times the size of the raw bytes); the Transform graph runs here instead.
    Its output is kept in memory for the later epochs when `cache(examples)`
    says it fits; otherwise every epoch reads and transforms again.

    Keras needs the number of examples to run several steps per call:
    `examples` as the ExampleGen recorded it, or else counted here (one
    more pass over the data).

    `static_shapes` drops a last partial batch: TPUs compile for one batch
    shape.
    """
    raw = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=_READ_BATCH, num_epochs=1,
                                       shuffle=False),
        raw_schema)

    def transform(raw_features):
        transformed = tft_layer(raw_features)
        return transformed[IMAGE_XF], transformed[LABEL_XF]

    dataset = raw.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch()
    if examples is None:
        examples = int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
    cached = cache(examples)
    if not cached:
        logging.info("%d transformed examples exceed the cache budget: "
                     "reading and transforming them every epoch", examples)
    # Shuffled, the examples are cached and batched anew every epoch.
    # Otherwise the batches are the same every epoch, and are what is
    # cached: a cache of single examples made each epoch's new iterator
    # stall (up to 4 s between epochs; docs/performance.md).
    if cached and shuffle_buffer:
        dataset = dataset.cache()
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(examples))
    # With several workers, each takes its part of every global batch, so
    # each example is seen once per epoch and every worker runs the same
    # steps (one file per shard is too few to split by file).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = dataset.with_options(options)
    if shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=static_shapes)
    if cached and not shuffle_buffer:
        # A cache is kept once its iterator has seen the end. Keras takes
        # exactly an epoch's batches from each epoch's iterator and never
        # asks past the last; the prefetch below does, as soon as it has
        # the last batch (a test reads the way Keras does). Were it ever
        # not to, every epoch would read the records again: slower, the
        # same batches.
        dataset = dataset.cache()
    return dataset.prefetch(tf.data.AUTOTUNE)


def _workers(strategy) -> list:
    """The addresses of the workers that trained together ([] for one
    process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return distribution.cluster_workers(resolver) if resolver else []


class EpochClock(tf.keras.callbacks.Callback):
    """Each epoch's seconds, from its start to its end (its validation
    included): with `fit`'s total, where the time of training went."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._began = None

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.monotonic() - self._began)


def _write_record(model_run_dir, strategy, global_batch, history,
                  warm_start, seconds, epoch_seconds, settings,
                  model) -> None:
    """Writes how training ran, and with which settings, next to the
    TensorBoard logs."""
    record = {
        "settings": settings,
        "model": model,
        "warm_start": warm_start,
        "strategy": distribution.name(strategy),
        "workers": _workers(strategy),
        "num_replicas_in_sync": strategy.num_replicas_in_sync,
        "devices": list(strategy.extended.worker_devices),
        "global_batch_size": global_batch,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "epoch_seconds": [round(v, 3) for v in epoch_seconds],
        "history": {k: [float(v) for v in values]
                    for k, values in history.items()},
    }
    with tf.io.gfile.GFile(training_record.path(model_run_dir), "w") as f:
        json.dump(record, f, indent=2)
