"""The seed's Keras model, sized from the data contract."""

from typing import Sequence

import tensorflow as tf

from components import features


def build_model(image_shape: Sequence[int], num_classes: int,
                learning_rate: float = 0.001,
                steps_per_execution: int = 1,
                jit_compile: bool = False) -> tf.keras.Model:
    """Flatten -> Dense 512 relu -> Dropout 0.2 -> Dense softmax, compiled.

    Build it inside `strategy.scope()` so its variables are mirrored.
    `steps_per_execution` runs that many steps per call into TensorFlow;
    it changes how often Python is involved, not what is computed.
    `jit_compile` compiles the training step with XLA, which fuses its ops:
    the same computation in fewer kernels.
    """
    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=tuple(image_shape),
                              name=features.transformed_name(
                                  features.IMAGE_KEY)),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(512, activation=tf.nn.relu),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(num_classes, activation=tf.nn.softmax),
    ])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile)
    return model


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
            "steps_per_execution": model.get_compile_config().get(
                "steps_per_execution"),
            "jit_compile": bool(model.jit_compile)}
