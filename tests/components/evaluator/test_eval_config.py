"""build_eval_config: the bound, and no-regression overall and per class."""

import pytest
import tensorflow_model_analysis as tfma

from components.evaluator import class_accuracy
from components.evaluator import eval_config


def test_thresholds_overall_and_per_class():
    config = eval_config.build_eval_config(0.85, 0.01, 0.05, num_classes=10)
    assert config.model_specs[0].label_key == "label"
    assert config.model_specs[0].signature_name == "serving_default"
    # Given, so that TFMA does not load the model to find it out.
    assert config.model_specs[0].model_type == tfma.TF_KERAS
    # One slice: the per-class figures come from its confusion matrix.
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[]]
    overall_spec, per_class_spec = config.metrics_specs
    metrics = {m.class_name: m for m in overall_spec.metrics}
    assert set(metrics) == {"ExampleCount", "SparseCategoricalAccuracy",
                            "MultiClassConfusionMatrixPlot"}
    assert not metrics["MultiClassConfusionMatrixPlot"].threshold.ListFields()
    overall = metrics["SparseCategoricalAccuracy"].threshold
    assert overall.value_threshold.lower_bound.value == 0.85
    assert overall.change_threshold.absolute.value == -0.01
    [per_class] = per_class_spec.metrics
    assert per_class.class_name == "ClassAccuracy"
    assert per_class.module == class_accuracy.__name__
    assert list(per_class_spec.binarize.class_ids.values) == list(range(10))
    assert not per_class.threshold.HasField("value_threshold")
    assert per_class.threshold.change_threshold.absolute.value == -0.05
    assert (per_class.threshold.change_threshold.direction
            == tfma.MetricDirection.HIGHER_IS_BETTER)


def test_values_are_not_hard_coded():
    config = eval_config.build_eval_config(0.5, 0.2, 0.3, num_classes=3,
                                           label_key="y")
    accuracy = config.metrics_specs[0].metrics[1]
    assert accuracy.threshold.value_threshold.lower_bound.value == 0.5
    assert list(config.metrics_specs[1].binarize.class_ids.values) == [
        0, 1, 2]
    assert config.model_specs[0].label_key == "y"


def test_no_classes_is_an_error():
    with pytest.raises(ValueError, match="num_classes is 0"):
        eval_config.build_eval_config(0.5, 0.2, 0.3, num_classes=0)
