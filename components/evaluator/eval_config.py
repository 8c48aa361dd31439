"""The evaluation gate: what a model must reach to be blessed."""

import tensorflow_model_analysis as tfma

from components import features
from components.evaluator import class_accuracy

ACCURACY = "sparse_categorical_accuracy"


def build_eval_config(min_accuracy: float, max_accuracy_drop: float,
                      max_class_accuracy_drop: float, num_classes: int,
                      label_key: str = features.LABEL_KEY) -> tfma.EvalConfig:
    """TFMA config: accuracy bound, and no regression overall and per class.

    Args:
      min_accuracy: overall accuracy must be at least this.
      max_accuracy_drop: overall accuracy may be at most this much below the
        baseline's (absolute). Ignored when there is no baseline yet.
      max_class_accuracy_drop: each class's accuracy (over the examples
        with that label) may be at most this much below the baseline's.
      num_classes: the classes 0 .. num_classes - 1 each have that check
        (class_accuracy.py: a class with no eval example fails it).
      label_key: the raw label feature.

    Returns:
      The EvalConfig for TFX's Evaluator, on the `serving_default` signature
      (serialized raw examples in).
    """
    if num_classes < 1:
        raise ValueError(f"num_classes is {num_classes}; the label's schema "
                         "domain gives at least one class.")
    higher_is_better = tfma.MetricDirection.HIGHER_IS_BETTER
    accuracy = tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        threshold=tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": min_accuracy}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=higher_is_better,
                absolute={"value": -max_accuracy_drop})))
    # Per class: one figure per class from the overall confusion matrix,
    # not a slice per label (class_accuracy.py says why).
    per_class = tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(
            class_name=class_accuracy.ClassAccuracy.__name__,
            module=class_accuracy.__name__,
            threshold=tfma.MetricThreshold(
                change_threshold=tfma.GenericChangeThreshold(
                    direction=higher_is_better,
                    absolute={"value": -max_class_accuracy_drop})))],
        binarize=tfma.BinarizationOptions(
            class_ids={"values": list(range(num_classes))}))
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
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            accuracy,
            # For the run report; not part of the gate.
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ]), per_class])
