"""Keeping AutoGraph out of Keras's own code.

TensorFlow's AutoGraph rewrites the Python of every function a `tf.function`
calls, except in packages it lists as already graph-safe; the list has
`keras` but not `tf_keras`, the Keras 2 that `TF_USE_LEGACY_KERAS=1` selects
(tf.Transform needs it). So every `model.fit`, `evaluate`, signature
export and TFMA Keras metric re-parses and rewrites hundreds of tf_keras
functions, which made the Trainer's first epoch several times slower, all
of it in `autograph/pyct`, and cost the Evaluator the same way
(docs/performance.md). tf_keras is written to be traced as is, exactly
like `keras`, so it gets the same rule; the Trainer and the Evaluator call
`skip_keras_conversion` first. The rule holds in the process that sets it:
with `--beam-mode multi_processing` (or a remote Beam runner) TFMA's metric
combiners run in Beam's worker processes, which do without it. There is no
public API for the rule list; if a TensorFlow release moves it, training is
only slower, and a warning says so.
"""

from absl import logging

PACKAGE = "tf_keras"


def skip_keras_conversion() -> bool:
    """Adds tf_keras to AutoGraph's do-not-convert rules, once per process.

    Returns:
      Whether the rule is in place.
    """
    try:
        # pylint: disable=g-import-not-at-top
        from tensorflow.python.autograph.core import config
        rules = config.CONVERSION_RULES
        rule = config.DoNotConvert(PACKAGE)
    except (ImportError, AttributeError) as error:
        logging.warning("cannot keep AutoGraph out of %s (%s): tracing the "
                        "model will be slower.", PACKAGE, error)
        return False
    if not any(isinstance(existing, config.DoNotConvert)
               and existing.matches(PACKAGE) for existing in rules):
        config.CONVERSION_RULES = (rule, *rules)
    return True
