"""ClassAccuracy: each class's accuracy from TFMA's confusion matrix, and
the per-class gate it carries."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util

from components.evaluator import class_accuracy
from components.evaluator import eval_config


def _computed(labels, predictions, class_ids):
    """What TFMA's computations of ClassAccuracy give for these examples:
    the shared matrix's combiner over every example, then each derived
    per-class figure, as TFMA's evaluator runs them."""
    computations = class_accuracy.ClassAccuracy().computations(
        sub_keys=[metric_types.SubKey(class_id=c) for c in class_ids])
    combiners = {c for c in computations
                 if isinstance(c, metric_types.MetricComputation)}
    derived = [c for c in computations
               if isinstance(c, metric_types.DerivedMetricComputation)]
    # One confusion matrix for all the classes.
    assert len(combiners) == 1 and len(derived) == len(class_ids)
    [matrix] = combiners
    combiner = matrix.combiner
    accumulator = combiner.create_accumulator()
    for label, prediction in zip(labels, predictions):
        accumulator = combiner.add_input(
            accumulator, metric_util.to_standard_metric_inputs({
                "labels": np.array([label]),
                "predictions": np.array(prediction),
                "example_weights": np.array([1.0])}))
    metrics = dict(combiner.extract_output(accumulator))
    for computation in derived:
        metrics.update(computation.result(metrics))
    return {key.sub_key.class_id: value for key, value in metrics.items()
            if key.name == class_accuracy.NAME}


def test_each_class_is_its_slice_accuracy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=200)
    predictions = rng.dirichlet(np.ones(5), size=200)
    got = _computed(labels, predictions, class_ids=range(4))
    top = predictions.argmax(axis=1)
    expected = {c: float(np.mean(top[labels == c] == c)) for c in range(4)}
    assert got == pytest.approx(expected)
    # Not a constant: the classes differ, and none is 0 or 1 here.
    assert len(set(got.values())) == 4
    assert all(0 < v < 1 for v in got.values())


def test_a_class_without_examples_has_no_figure():
    got = _computed([0, 0, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1],
                                [0.1, 0.1, 0.8]], class_ids=[0, 1, 2])
    assert got == {0: 0.5, 2: 1.0}


def test_it_needs_the_classes():
    with pytest.raises(ValueError, match="binarize"):
        class_accuracy.ClassAccuracy().computations()


def test_the_gate_holds_each_class_to_its_baseline():
    config = eval_config.build_eval_config(0.8, 0.01, 0.05, num_classes=3)
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(
        config.metrics_specs, eval_config=config)
    per_class = {key.sub_key.class_id: given for key, given in
                 thresholds.items() if key.name == class_accuracy.NAME}
    assert set(per_class) == {0, 1, 2}
    for given in per_class.values():
        [(slicing, threshold)] = given
        assert slicing is None
        assert threshold.absolute.value == -0.05
        assert threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert all(key.is_diff for key in thresholds
               if key.name == class_accuracy.NAME)


def test_a_matrix_without_threshold_zero_is_an_error_not_a_missing_class():
    computations = class_accuracy.ClassAccuracy().computations(
        sub_keys=[metric_types.SubKey(class_id=0)])
    [matrix] = [c for c in computations
                if isinstance(c, metric_types.MetricComputation)]
    [derived] = [c for c in computations
                 if isinstance(c, metric_types.DerivedMetricComputation)]
    counted = {matrix.keys[0]: {0.5: {}}}  # another plot's thresholds
    with pytest.raises(ValueError, match="threshold 0.0"):
        derived.result(counted)


def test_the_report_plot_counts_the_matrix_at_threshold_zero():
    """The plot and ClassAccuracy share TFMA's matrix computation; the
    plot of the eval config must count threshold 0."""
    config = eval_config.build_eval_config(0.8, 0.01, 0.05, num_classes=3)
    [plot] = [m for m in config.metrics_specs[0].metrics
              if m.class_name == "MultiClassConfusionMatrixPlot"]
    assert not plot.config  # TFMA's default thresholds: [0.0]
