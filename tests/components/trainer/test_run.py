"""The Trainer's input pipeline: known sizes, and a memory budget."""

import time

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import run


class CountingAccessor:
    """A data accessor whose dataset counts how often it is read."""

    def __init__(self, examples):
        self.examples = examples
        self.reads = 0

    def tf_dataset_factory(self, file_pattern, options, schema):
        del file_pattern, schema

        def generate():
            self.reads += 1
            for start in range(0, self.examples, options.batch_size):
                size = min(options.batch_size, self.examples - start)
                yield {"image": np.zeros([size, 4], np.float32),
                       "label": np.arange(start, start + size) % 3}

        return tf.data.Dataset.from_generator(generate, output_signature={
            "image": tf.TensorSpec([None, 4], tf.float32),
            "label": tf.TensorSpec([None], tf.int64)})


def _layer(features):
    return {run.IMAGE_XF: features["image"] / 2.0,
            run.LABEL_XF: features["label"]}


def _epochs(dataset, epochs=2):
    return [sum(int(tf.shape(labels)[0]) for _, labels in dataset)
            for _ in range(epochs)]


@pytest.mark.parametrize("fits, reads", [(True, 1), (False, 2)])
def test_the_split_is_kept_in_memory_only_within_the_budget(fits, reads):
    accessor = CountingAccessor(2500)
    dataset = run._dataset(["f"], accessor, None, _layer, batch_size=64,
                           examples=2500, cache=lambda n: fits)
    assert int(dataset.cardinality()) == 40  # 2500 / 64, rounded up
    assert _epochs(dataset) == [2500, 2500]
    assert accessor.reads == reads


def test_unknown_sizes_are_counted_first():
    accessor = CountingAccessor(2500)
    seen = []
    dataset = run._dataset(["f"], accessor, None, _layer, batch_size=64,
                           examples=None,
                           cache=lambda n: seen.append(n) or True)
    assert seen == [2500]
    assert int(dataset.cardinality()) == 40
    assert _epochs(dataset) == [2500, 2500]
    assert accessor.reads == 2  # the count, then once into the cache


def test_the_training_and_eval_splits_share_one_budget():
    budget = run.CacheBudget(mib=1, example_bytes=2**10)  # 1,024 examples
    assert budget.take(600)
    assert not budget.take(500)      # 600 + 500 > 1,024: re-read instead
    assert budget.take(424)
    assert not budget.take(1)


def test_shuffled_examples_are_cached_then_batched_anew_each_epoch():
    accessor = CountingAccessor(2500)
    dataset = run._dataset(["f"], accessor, None, _layer, batch_size=64,
                           examples=2500, cache=lambda n: True,
                           shuffle_buffer=2500)
    first, second = ([labels.numpy().tolist() for _, labels in dataset]
                     for _ in range(2))
    assert accessor.reads == 1
    assert first != second  # reshuffled, not the cached batches again
    assert sorted(sum(first, [])) == sorted(sum(second, []))


@pytest.mark.parametrize("shuffle_buffer", [0, 2500])
def test_the_cache_is_kept_when_each_epoch_takes_exactly_its_batches(
        shuffle_buffer):
    """As Keras reads a dataset of known size: a new iterator per epoch,
    exactly as many batches as there are, never the end."""
    accessor = CountingAccessor(2500)
    dataset = run._dataset(["f"], accessor, None, _layer, batch_size=64,
                           examples=2500, cache=lambda n: True,
                           shuffle_buffer=shuffle_buffer)
    batches = int(dataset.cardinality())
    for _ in range(3):
        iterator = iter(dataset)
        seen = sum(int(tf.shape(next(iterator)[1])[0])
                   for _ in range(batches))
        assert seen == 2500
        time.sleep(0.2)  # the training step on the last batch
        del iterator
    assert accessor.reads == 1


def test_the_record_says_each_epochs_seconds():
    clock = run.EpochClock()
    for epoch, seconds in enumerate((0.05, 0.3)):
        clock.on_epoch_begin(epoch)
        time.sleep(seconds)
        clock.on_epoch_end(epoch)
    assert len(clock.seconds) == 2
    assert clock.seconds[0] >= 0.05 and clock.seconds[1] >= 0.3
