"""tf_keras and tf.Transform are kept out of AutoGraph's conversion, as
`keras` is; the user's own code is not."""

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.impl import conversion
from tensorflow_transform.saved import saved_transform_io_v2

from components import autograph


def _without_the_rules(monkeypatch):
    # As in a fresh process, whatever ran before in this one.
    monkeypatch.setattr(config, "CONVERSION_RULES", tuple(
        rule for rule in config.CONVERSION_RULES
        if not any(rule.matches(package) for package in autograph.PACKAGES)))


def test_library_code_is_traced_as_is(monkeypatch):
    _without_the_rules(monkeypatch)
    dense_call = tf.keras.layers.Dense.call
    assert dense_call.__module__.startswith("tf_keras.")
    library = [dense_call, tft.TFTransformOutput.transform_features_layer,
               saved_transform_io_v2.SavedModelLoader.apply_transform_model]
    assert not any(conversion.is_allowlisted(f) for f in library)

    assert autograph.skip_library_conversion()

    assert all(conversion.is_allowlisted(f) for f in library)
    # The user's own functions are still converted.
    assert not conversion.is_allowlisted(test_library_code_is_traced_as_is)


def test_the_rules_are_added_once(monkeypatch):
    _without_the_rules(monkeypatch)
    autograph.skip_library_conversion()
    autograph.skip_library_conversion()
    for package in autograph.PACKAGES:
        assert sum(isinstance(rule, config.DoNotConvert)
                   and rule.matches(package)
                   for rule in config.CONVERSION_RULES) == 1


def _sign_flip(x):
    """Control flow on a tensor: traces only as AutoGraph rewrites it."""
    if tf.reduce_sum(x) > 0:
        return x
    return -x


def test_code_outside_the_packages_called_in_a_trace_is_still_converted(
        monkeypatch):
    _without_the_rules(monkeypatch)
    assert autograph.skip_library_conversion()

    @tf.function
    def traced(x):
        return _sign_flip(x)  # a call AutoGraph converts, unless a rule
                              # lists this module

    assert traced(tf.constant([-2.0])).numpy().tolist() == [2.0]
