"""Keeping AutoGraph out of the libraries' own code.

TensorFlow's AutoGraph rewrites the Python of every function a `tf.function`
calls, except in packages it lists as already graph-safe; the list has
`keras` but not `tf_keras`, the Keras 2 that `TF_USE_LEGACY_KERAS=1` selects
(tf.Transform needs it). So every `model.fit`, `evaluate`, signature
export and TFMA Keras metric re-parses and rewrites hundreds of tf_keras
functions, which made the Trainer's first epoch several times slower, all
of it in `autograph/pyct`, and cost the Evaluator the same way
(docs/performance.md). tf_keras is written to be traced as is, exactly
like `keras`, so it gets the same rule. So is tf.Transform's Keras layer
and the loader behind it (its branches and loops are over Python values,
and the transform graph it calls is a traced function already), which
the Trainer's input pipeline and both serving signatures call: rewritten,
it cost the Trainer seconds before the first epoch and in the export
(docs/performance.md). Code outside these packages is converted as
before: the model's own `call`, the chunked training step's loop.
tf.Transform traces the preprocessing_fn without AutoGraph either way.
The Trainer and the Evaluator call `skip_library_conversion` first. The
rule holds in the process that sets it:
with `--beam-mode multi_processing` (or a remote Beam runner) TFMA's metric
combiners run in Beam's worker processes, which do without it. There is no
public API for the rule list; if a TensorFlow release moves it, training is
only slower, and a warning says so.
"""

from absl import logging

PACKAGES = ("tf_keras", "tensorflow_transform")


def skip_library_conversion() -> bool:
    """Adds `PACKAGES` to AutoGraph's do-not-convert rules, once per
    process.

    Returns:
      Whether the rules are in place.
    """
    try:
        # pylint: disable=g-import-not-at-top
        from tensorflow.python.autograph.core import config
        rules = config.CONVERSION_RULES
        new = tuple(config.DoNotConvert(package) for package in PACKAGES
                    if not any(isinstance(existing, config.DoNotConvert)
                               and existing.matches(package)
                               for existing in rules))
    except (ImportError, AttributeError) as error:
        logging.warning("cannot keep AutoGraph out of %s (%s): tracing the "
                        "model will be slower.", ", ".join(PACKAGES), error)
        return False
    config.CONVERSION_RULES = (*new, *rules)
    return True
