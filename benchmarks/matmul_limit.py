"""The arithmetic limit of the Trainer's work on this machine: exactly the
model's matrix products for every training step, and nothing else.

One step of Flatten -> Dense 512 -> Dense 10 at a batch of 64 is five
products: forward x @ W1 (64x784 by 784x512) and h @ W2 (64x512 by
512x10); backward h^T @ g2 and g2 @ W2^T for the second layer, x^T @ g1
for the first (the input needs no gradient). Each step updates the
weights by a vanishing amount, so one step depends on the one before, as
in training, and TensorFlow cannot hoist the products out of the loop
(without that, a run "reaches" thousands of GFLOP/s by computing once).
The steps run in one `tf.function` loop, with and without XLA; the faster
is the limit. Prints one JSON line: seconds for `--epochs` epochs of
`--examples` examples, the FLOPs and the rate.

  .venv/bin/python benchmarks/matmul_limit.py [--examples 60000]
"""

import argparse
import json
import math
import time

import tensorflow as tf

BATCH = 64
PIXELS = 28 * 28
HIDDEN = 512
CLASSES = 10
# Multiply-adds per step: forward, then the two backward products of the
# second layer, then the one of the first.
MULTIPLY_ADDS = BATCH * (PIXELS * HIDDEN + HIDDEN * CLASSES
                         + HIDDEN * CLASSES + CLASSES * HIDDEN
                         + PIXELS * HIDDEN)


def _steps_function(jit_compile: bool):
    @tf.function(jit_compile=jit_compile)
    def steps(x, w1, w2, g2, count):
        def step(i, w1, w2):
            h = tf.matmul(x, w1)
            logits = tf.matmul(h, w2)
            grad_w2 = tf.matmul(h, g2 + logits * 1e-30, transpose_a=True)
            grad_h = tf.matmul(g2, w2, transpose_b=True)
            grad_w1 = tf.matmul(x, grad_h, transpose_a=True)
            return (i + 1, w1 - 1e-30 * grad_w1, w2 - 1e-30 * grad_w2)

        _, w1, w2 = tf.while_loop(lambda i, *_: i < count, step,
                                  (tf.constant(0), w1, w2))
        return tf.reduce_sum(w1) + tf.reduce_sum(w2)
    return steps


def seconds_for(steps: int, jit_compile: bool) -> float:
    """Wall seconds of `steps` steps' products (compiled beforehand)."""
    x = tf.random.uniform((BATCH, PIXELS))
    w1 = tf.random.normal((PIXELS, HIDDEN), stddev=0.05)
    w2 = tf.random.normal((HIDDEN, CLASSES), stddev=0.05)
    g2 = tf.random.normal((BATCH, CLASSES))
    function = _steps_function(jit_compile)
    function(x, w1, w2, g2, tf.constant(10)).numpy()  # trace and compile
    started = time.monotonic()
    function(x, w1, w2, g2, tf.constant(steps)).numpy()
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=60000,
                        help="Training examples per epoch.")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    steps = math.ceil(args.examples / BATCH) * args.epochs
    measured = {f"xla={jit}": seconds_for(steps, jit) for jit in (False, True)}
    seconds = min(measured.values())
    flops = 2 * MULTIPLY_ADDS * steps
    print(json.dumps({"steps": steps, "seconds": seconds,
                      "gflop": flops / 1e9,
                      "gflop_per_second": flops / 1e9 / seconds,
                      "measured": measured}))


if __name__ == "__main__":
    main()
