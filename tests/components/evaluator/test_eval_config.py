"""build_eval_config: the bound, and no-regression overall and per class."""

import tensorflow_model_analysis as tfma

from components.evaluator import eval_config


def test_thresholds_overall_and_per_class():
    config = eval_config.build_eval_config(0.85, 0.01, 0.05)
    assert config.model_specs[0].label_key == "label"
    assert config.model_specs[0].signature_name == "serving_default"
    # Given, so that TFMA does not load the model to find it out.
    assert config.model_specs[0].model_type == tfma.TF_KERAS
    slicing = [list(s.feature_keys) for s in config.slicing_specs]
    assert slicing == [[], ["label"]]
    metrics = {m.class_name: m for m in config.metrics_specs[0].metrics}
    assert set(metrics) == {"ExampleCount", "SparseCategoricalAccuracy",
                            "MultiClassConfusionMatrixPlot"}
    assert not metrics["MultiClassConfusionMatrixPlot"].threshold.ListFields()
    overall, per_class = metrics["SparseCategoricalAccuracy"]\
        .per_slice_thresholds
    assert list(overall.slicing_specs[0].feature_keys) == []
    assert overall.threshold.value_threshold.lower_bound.value == 0.85
    assert overall.threshold.change_threshold.absolute.value == -0.01
    assert list(per_class.slicing_specs[0].feature_keys) == ["label"]
    assert not per_class.threshold.HasField("value_threshold")
    assert per_class.threshold.change_threshold.absolute.value == -0.05
    assert (per_class.threshold.change_threshold.direction
            == tfma.MetricDirection.HIGHER_IS_BETTER)


def test_values_are_not_hard_coded():
    config = eval_config.build_eval_config(0.5, 0.2, 0.3, label_key="y")
    accuracy = config.metrics_specs[0].metrics[1]
    assert accuracy.per_slice_thresholds[0].threshold.value_threshold\
        .lower_bound.value == 0.5
    assert list(config.slicing_specs[1].feature_keys) == ["y"]
    assert config.model_specs[0].label_key == "y"
