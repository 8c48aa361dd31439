"""Each class's accuracy, read off the confusion matrix TFMA already counts.

The accuracy of class k is the share of the eval examples labelled k whose
top prediction is k: the row of k in the confusion matrix, its diagonal
entry over its sum. It is the accuracy of the slice `label == k`, which
the gate used to compute by slicing on the label. Slicing sends every
example through TFMA's per-example metric combiners once more (its own
slice and the overall one), and all of them, the confusion matrix's among
them, ran again on every slice: 1.7 s of the Evaluator's 5.5 s on
Fashion-MNIST (docs/performance.md). Read off the overall slice's matrix,
the ten figures cost nothing per example.

TFMA computes one figure per class of the metrics spec's binarization
(`tfma.BinarizationOptions(class_ids=...)`), each under its metric key's
`sub_key.class_id`, so thresholds apply to each class as to any binarized
metric. The matrix is TFMA's own computation (the one the confusion matrix
plot shows, top class at threshold 0), so TFMA counts it once for both:
the plot must then count threshold 0 (its default) among its own.

A class with no eval example has no accuracy, so it gets no figure; a
threshold on it then fails as TFMA fails a threshold whose metric is not
found (`metrics.py` says which class had no examples).
"""

from typing import Dict, Optional

from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.metrics import (
    multi_class_confusion_matrix_metrics as confusion)
from tensorflow_model_analysis.proto import config_pb2

NAME = "class_accuracy"
# The matrix at threshold 0: each example counted at its top prediction.
_THRESHOLD = 0.0


class ClassAccuracy(metric_types.Metric):
    """Per-class accuracy: one figure per `class_id` the metrics spec
    binarizes by (see the module docstring)."""

    def __init__(self, name: str = NAME):
        super().__init__(metric_util.merge_per_key_computations(_class_accuracy),
                         name=name)


def _class_accuracy(name: str = NAME,
                    eval_config: Optional[config_pb2.EvalConfig] = None,
                    model_name: str = "", output_name: str = "",
                    sub_key: Optional[metric_types.SubKey] = None,
                    example_weighted: bool = False
                    ) -> metric_types.MetricComputations:
    if sub_key is None or sub_key.class_id is None:
        raise ValueError(
            f"{ClassAccuracy.__name__} needs the classes to report: put it "
            "in a metrics spec with binarize=tfma.BinarizationOptions("
            "class_ids={'values': [...]}).")
    key = metric_types.MetricKey(name=name, model_name=model_name,
                                 output_name=output_name, sub_key=sub_key,
                                 example_weighted=example_weighted)
    computations = confusion.multi_class_confusion_matrices(
        thresholds=[_THRESHOLD], eval_config=eval_config,
        model_name=model_name, output_name=output_name,
        example_weighted=example_weighted)
    matrices_key = computations[-1].keys[-1]
    class_id = sub_key.class_id

    def result(metrics: Dict[metric_types.MetricKey, confusion.Matrices]
               ) -> Dict[metric_types.MetricKey, float]:
        matrices = metrics[matrices_key]
        if matrices and _THRESHOLD not in matrices:
            # TFMA counts one matrix computation for all who ask for it,
            # whoever asked first deciding its thresholds (it tells them
            # apart by name and keys only).
            raise ValueError(
                f"{ClassAccuracy.__name__} reads the confusion matrix at "
                f"threshold {_THRESHOLD}, which this evaluation did not "
                f"count (it has {sorted(matrices)}): give the "
                "MultiClassConfusionMatrixPlot no thresholds, or include "
                f"{_THRESHOLD}.")
        matrix = matrices.get(_THRESHOLD, {})
        row = {entry.predicted_class_id: count
               for entry, count in matrix.items()
               if entry.actual_class_id == class_id}
        total = sum(row.values())
        if not total:
            return {}
        return {key: row.get(class_id, 0.0) / total}

    computations.append(metric_types.DerivedMetricComputation(
        keys=[key], result=result))
    return computations
