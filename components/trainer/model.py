"""The seed's Keras model, sized from the data contract."""

from typing import Optional, Sequence

import tensorflow as tf

from components import features
from components.trainer import chunked


def build_model(image_shape: Sequence[int], num_classes: int,
                learning_rate: float = 0.001,
                steps_per_execution: int = 1,
                jit_compile: bool = False,
                chunk_batch_size: Optional[int] = None) -> tf.keras.Model:
    """Flatten -> Dense 512 relu -> Dropout 0.2 -> Dense softmax, compiled
    with Adam.

    Build it inside `strategy.scope()` so its variables are mirrored.
    `steps_per_execution` runs that many steps per call into TensorFlow;
    it changes how often Python is involved, not what is computed. With
    `chunk_batch_size`, the model is a `chunked.ChunkedSequential` that
    takes those steps' batches (of that many examples) as one chunk; its
    training dataset then has `model.chunk_size` examples per element.
    `jit_compile` compiles the training step with XLA, which fuses its ops:
    the same computation in fewer kernels.
    """
    layers = [
        tf.keras.layers.Input(shape=tuple(image_shape),
                              name=features.transformed_name(
                                  features.IMAGE_KEY)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(512, activation=tf.nn.relu),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(num_classes, activation=tf.nn.softmax),
    ]
    if chunk_batch_size:
        model = chunked.ChunkedSequential(layers, chunk_batch_size,
                                          steps_per_execution)
        steps_per_execution = 1
    else:
        model = tf.keras.Sequential(layers)
    model.compile(
        optimizer=_adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile)
    return model


def _adam(learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """Adam, as one fused kernel per variable where Keras has it.

    tf-keras 2.16's `tf.keras.optimizers.Adam` updates each variable with
    a dozen separate element-wise ops (its XLA path is for GPUs only); its
    `legacy.Adam` runs TensorFlow's `ResourceApplyAdam`, the same update in
    one multi-threaded pass: a step of this model takes about a fifth less
    on this machine's CPU (docs/performance.md). Same defaults, same
    formula. Keras 3 has no legacy optimizers: there, the current one.
    """
    legacy = getattr(tf.keras.optimizers, "legacy", None)
    adam = getattr(legacy, "Adam", None) or tf.keras.optimizers.Adam
    return adam(learning_rate=learning_rate)


def describe(model: tf.keras.Model) -> dict:
    """The model as the model card shows it (layers, optimizer, loss) and
    as Keras compiled it (its steps per execution, whether XLA compiles
    its training step)."""
    layers = []
    for layer in model.layers:
        config = layer.get_config()
        details = [f"{config[k]}" for k in ("units", "rate")
                   if k in config]
        activation = config.get("activation")
        if activation and activation != "linear":
            details.append(getattr(activation, "__name__", str(activation)))
        layers.append(" ".join([type(layer).__name__, *details]))
    return {"layers": layers,
            "optimizer": type(model.optimizer).__name__,
            "loss": model.loss if isinstance(model.loss, str)
            else getattr(model.loss, "__name__", str(model.loss)),
            "steps_per_execution": getattr(
                model, "chunk_steps", None) or model.get_compile_config().get(
                    "steps_per_execution"),
            "chunked": isinstance(model, chunked.ChunkedSequential),
            "jit_compile": bool(model.jit_compile)}
