"""Training on chunks of batches is Keras's training, step for step."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import chunked
from components.trainer import distribution
from components.trainer import model as model_lib

EXAMPLES, BATCH, STEPS = 300, 16, 4  # chunks of 64; the last batch is 12


def _trained(chunk: bool):
    tf.keras.utils.set_random_seed(7)
    images = np.random.default_rng(0).random((EXAMPLES, 6, 6, 1),
                                             dtype=np.float32)
    labels = np.arange(EXAMPLES) % 3
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    strategy = distribution.make_strategy(1)
    with strategy.scope():
        model = model_lib.build_model(
            (6, 6, 1), 3, steps_per_execution=STEPS,
            chunk_batch_size=BATCH if chunk else None)
    per_element = model.chunk_size if chunk else BATCH
    history = model.fit(data.batch(per_element), epochs=2, verbose=0)
    return model, history.history


def test_chunks_train_the_same_steps_as_keras():
    keras_model, keras_history = _trained(chunk=False)
    chunked_model, chunked_history = _trained(chunk=True)
    assert isinstance(chunked_model, chunked.ChunkedSequential)
    assert chunked_model.chunk_size == BATCH * STEPS
    # ceil(300 / 16) = 19 updates an epoch, the last on 12 examples.
    assert int(chunked_model.optimizer.iterations.numpy()) == 2 * 19
    assert int(chunked_model._train_counter.numpy()) == 2 * 19  # pylint: disable=protected-access
    for ours, theirs in zip(chunked_model.get_weights(),
                            keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert chunked_history.keys() == keras_history.keys()
    np.testing.assert_allclose(chunked_history["loss"],
                               keras_history["loss"], rtol=1e-5)
    described = model_lib.describe(chunked_model)
    assert described["chunked"] is True
    assert described["steps_per_execution"] == STEPS


@pytest.mark.parametrize("replicas, workers, jit, expected", [
    (1, 1, False, True), (1, 1, True, False), (1, 2, False, False)])
def test_chunks_only_for_one_replica_without_xla(replicas, workers, jit,
                                                 expected):
    strategy = distribution.make_strategy(replicas)
    assert chunked.applies(strategy, workers, jit) is expected


def test_several_replicas_keep_keras_loop():
    class TwoReplicas:  # what `applies` reads of a strategy
        num_replicas_in_sync = 2
    assert not chunked.applies(TwoReplicas(), 1, False)
