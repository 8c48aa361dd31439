"""The evaluation gate: what a model must reach to be blessed."""

import tensorflow_model_analysis as tfma

from components import features

ACCURACY = "sparse_categorical_accuracy"


def build_eval_config(min_accuracy: float, max_accuracy_drop: float,
                      max_class_accuracy_drop: float,
                      label_key: str = features.LABEL_KEY) -> tfma.EvalConfig:
    """TFMA config: accuracy bound, and no regression overall and per class.

    Args:
      min_accuracy: overall accuracy must be at least this.
      max_accuracy_drop: overall accuracy may be at most this much below the
        baseline's (absolute). Ignored when there is no baseline yet.
      max_class_accuracy_drop: each class's accuracy (the slice of examples
        with that label) may be at most this much below the baseline's.
      label_key: the raw label feature, also the per-class slicing key.

    Returns:
      The EvalConfig for TFX's Evaluator, on the `serving_default` signature
      (serialized raw examples in).
    """
    overall = tfma.SlicingSpec()
    per_class = tfma.SlicingSpec(feature_keys=[label_key])
    higher_is_better = tfma.MetricDirection.HIGHER_IS_BETTER
    accuracy = tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        per_slice_thresholds=[
            tfma.PerSliceMetricThreshold(
                slicing_specs=[overall],
                threshold=tfma.MetricThreshold(
                    value_threshold=tfma.GenericValueThreshold(
                        lower_bound={"value": min_accuracy}),
                    change_threshold=tfma.GenericChangeThreshold(
                        direction=higher_is_better,
                        absolute={"value": -max_accuracy_drop}))),
            tfma.PerSliceMetricThreshold(
                slicing_specs=[per_class],
                threshold=tfma.MetricThreshold(
                    change_threshold=tfma.GenericChangeThreshold(
                        direction=higher_is_better,
                        absolute={"value": -max_class_accuracy_drop}))),
        ])
    return tfma.EvalConfig(
        # The model's own compiled metrics (loss, accuracy) would be
        # computed again through Keras, loading the model in every metric
        # combiner: a third of the Evaluator's time for a copy of the
        # accuracy configured here. Training loss is in the run's report.
        options=tfma.Options(include_default_metrics={"value": False}),
        # Said, not found out: without a model type TFMA loads the whole
        # Keras model once more only to learn that it is one.
        model_specs=[tfma.ModelSpec(signature_name="serving_default",
                                    label_key=label_key,
                                    model_type=tfma.TF_KERAS)],
        slicing_specs=[overall, per_class],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            accuracy,
            # For the run report; not part of the gate.
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])])
