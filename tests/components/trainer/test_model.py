"""Model shapes and the strategy choice."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import distribution
from components.trainer import model as model_lib


def test_seed_architecture_and_output_shape():
    model = model_lib.build_model((28, 28, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense"]
    assert model.layers[1].units == 512
    assert model.layers[2].rate == 0.2
    assert model.loss == "sparse_categorical_crossentropy"
    probabilities = model(np.zeros((3, 28, 28, 1), np.float32))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(tf.reduce_sum(probabilities, 1).numpy(),
                               np.ones(3), rtol=1e-5)


def test_the_description_says_how_keras_compiled_it():
    described = model_lib.describe(
        model_lib.build_model((8, 8, 1), 4, steps_per_execution=7))
    assert described["steps_per_execution"] == 7
    assert described["optimizer"] == "Adam"
    assert described["jit_compile"] is False
    assert model_lib.describe(model_lib.build_model(
        (8, 8, 1), 4, jit_compile=True))["jit_compile"] is True


def test_shape_and_classes_come_from_arguments():
    model = model_lib.build_model((8, 8, 3), 4)
    assert model.output_shape == (None, 4)
    assert model.input_shape == (None, 8, 8, 3)


def test_single_replica_strategy_on_cpu():
    strategy = distribution.make_strategy(1)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 1
    assert distribution.xla_can_compile(strategy)


def test_cpu_replicas_are_mirrored_in_a_fresh_process():
    """Logical CPUs can only be made before TensorFlow initialises, which
    this test process has done: a fresh interpreter asks for two."""
    script = (
        "import tensorflow as tf\n"
        "from components.trainer import distribution\n"
        "s = distribution.make_strategy(2)\n"
        "print(type(s).__name__, s.num_replicas_in_sync,\n"
        "      sorted(d.rsplit(':', 1)[-1] for d in s.extended.worker_devices),\n"
        "      distribution.xla_can_compile(s))")
    result = subprocess.run([sys.executable, "-c", script], check=True,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.split("\n")[-2] == \
        "MirroredStrategy 2 ['0', '1'] False"


def test_the_cpu_cannot_be_split_once_tensorflow_is_initialised():
    tf.config.list_logical_devices("CPU")  # initialises, if nothing had
    with pytest.raises(RuntimeError, match="already initialised"):
        distribution.make_strategy(3)


def test_configured_tpu_that_is_not_there_is_named():
    """On this machine (no TPU) a configured TPU fails with what to do,
    instead of silently training on the CPU."""
    with pytest.raises(RuntimeError,
                       match=r"a TPU is configured \(tpu='local'\) but none"):
        distribution.make_strategy(tpu="local")
