"""Keras `fit` with the training data taken in chunks: one tensor of
`steps` batches per call into TensorFlow, cut into its batches in the
graph, each trained on by Keras's own `train_step`.

Keras's `steps_per_execution` already runs many steps per call, but each
step still asks the input iterator for its batch (`next(iterator)`): a
hand-over between tf.data's threads and the training step, and a few more
small ops, for every batch of 64. On this project's 2-core machine that
is about a third of a step (docs/performance.md). A chunk asks once.

The work is the same: every batch is the one Keras would have made (the
chunk is `steps` consecutive batches of the same data), every step is
`train_step` on one batch, with one optimizer update; the step counter
and the epoch's history are Keras's. Keras counts chunks as its steps:
batch-level callbacks run once per chunk, with the last step's logs, and
see chunk indices (a `ModelCheckpoint(save_freq=N)` would count chunks);
the Trainer's callbacks work per epoch. The model's config is a plain
Sequential's: cloned or rebuilt from its config, it trains batch by
batch.

For one replica without XLA only (`applies`). With several replicas,
`tf.distribute` would split each chunk into one contiguous part per
replica, which is not how it splits each batch; and XLA compiles a step
for one batch shape, which a batch cut at a step's offset does not have
(a run with both took 40 s to `fit` instead of 9). Those keep Keras's own
loop.
"""

import tensorflow as tf


def applies(strategy: tf.distribute.Strategy, workers: int,
            jit_compile: bool) -> bool:
    """Whether training under `strategy` takes its data in chunks: one
    replica in one process (the CPU, or a single GPU), without XLA."""
    return (strategy.num_replicas_in_sync == 1 and workers == 1
            and not jit_compile
            and not isinstance(strategy, tf.distribute.TPUStrategy))


class ChunkedSequential(tf.keras.Sequential):
    """A Sequential model whose `fit` takes each element of its training
    dataset as a chunk of batches of `batch_size` examples (the last batch
    of the last chunk may be smaller) and trains on them one after the
    other. Build its training dataset with `chunk_size` examples per
    element and compile it with `steps_per_execution=1`; evaluation and
    prediction are Keras's own. Not for XLA (see the module docstring)."""

    def __init__(self, layers, batch_size: int, steps: int, **kwargs):
        super().__init__(layers, **kwargs)
        self.chunk_batch_size = batch_size
        self.chunk_steps = steps

    @property
    def chunk_size(self) -> int:
        """Examples per element of the training dataset."""
        return self.chunk_batch_size * self.chunk_steps

    def make_train_function(self, force=False):
        """Keras's train function (see Keras's own for the contract), one
        chunk per call."""
        if self.train_function is not None and not force:
            return self.train_function
        batch_size = self.chunk_batch_size

        def run_step(chunk, step):
            batch = tf.nest.map_structure(
                lambda t: t[step * batch_size:(step + 1) * batch_size], chunk)
            outputs = self.train_step(batch)
            # As Keras's own step does, after the step's work.
            with tf.control_dependencies(tf.nest.flatten(outputs)):
                self._train_counter.assign_add(1)
            return outputs

        def train_function(iterator):
            chunk = next(iterator)
            examples = tf.shape(tf.nest.flatten(chunk)[0])[0]
            steps = (examples + batch_size - 1) // batch_size
            outputs = None
            for step in tf.range(steps):
                outputs = self.distribute_strategy.run(
                    run_step, args=(chunk, step))
            # One replica: its values are the results.
            return tf.nest.map_structure(
                lambda v: self.distribute_strategy.experimental_local_results(
                    v)[0], outputs)

        self.train_function = tf.function(train_function,
                                          reduce_retracing=True)
        self.train_tf_function = self.train_function
        return self.train_function
