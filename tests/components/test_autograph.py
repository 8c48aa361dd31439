"""tf_keras is kept out of AutoGraph's conversion, as `keras` is."""

import tensorflow as tf
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.impl import conversion

from components import autograph


def test_tf_keras_code_is_traced_as_is(monkeypatch):
    # As in a fresh process, whatever ran before in this one.
    monkeypatch.setattr(config, "CONVERSION_RULES", tuple(
        rule for rule in config.CONVERSION_RULES
        if not rule.matches(autograph.PACKAGE)))
    dense_call = tf.keras.layers.Dense.call
    assert dense_call.__module__.startswith("tf_keras.")
    assert not conversion.is_allowlisted(dense_call)

    assert autograph.skip_keras_conversion()

    assert conversion.is_allowlisted(dense_call)
    # The user's own functions are still converted.
    assert not conversion.is_allowlisted(test_tf_keras_code_is_traced_as_is)


def test_the_rule_is_added_once():
    autograph.skip_keras_conversion()
    autograph.skip_keras_conversion()
    assert sum(isinstance(rule, config.DoNotConvert)
               and rule.matches(autograph.PACKAGE)
               for rule in config.CONVERSION_RULES) == 1
