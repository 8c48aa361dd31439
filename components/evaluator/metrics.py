"""What an evaluation found, read from TFMA's output, and the headline
figures recorded on the evaluation artifact itself.

The Evaluator (component.py) records overall accuracy, the example count
and per-class accuracy as custom properties of its ModelEvaluation
artifact, and everything `read_metrics` returns as one JSON property, so
that run and model listings and the run summary read them from ML
Metadata without loading TFMA (and TensorFlow). TFMA, and the modules that
import it, are imported only by the functions that read its files.
"""

import json
import logging
from typing import Any, Dict, List, Optional, Sequence

from components.tfds_example_gen import properties

ACCURACY_PROPERTY = "accuracy"
EXAMPLE_COUNT_PROPERTY = "example_count"
PER_CLASS_ACCURACY_PROPERTY = "per_class_accuracy"
# What `read_metrics` returned when the Evaluator ran, as JSON, if at most
# this long: a dataset of many classes makes a confusion matrix too large
# for a metadata property (readers then go to TFMA's files).
METRICS_PROPERTY = "metrics"
METRICS_PROPERTY_MAX_CHARS = 256 * 1024


def read_metrics(evaluation_uri: str,
                 class_names: Optional[Sequence[str]] = None
                 ) -> Dict[str, Any]:
    """From a TFMA output directory: the candidate's overall accuracy,
    example count and per-class accuracy (keyed by class index); the
    baseline's, when the Evaluator had one; the candidate's confusion
    matrix (rows: true class, columns: predicted); and why validation
    failed, if it did. With the dataset's `class_names`, those too (by
    index), and the failures name the classes."""
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    from components import features  # pylint: disable=import-outside-toplevel
    from components.evaluator import class_accuracy  # pylint: disable=import-outside-toplevel
    from components.evaluator import eval_config  # pylint: disable=import-outside-toplevel
    models: Dict[str, Dict[str, Any]] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        slice_keys = slice_metrics.slice_key.single_slice_keys
        for item in slice_metrics.metric_keys_and_values:
            key = item.key
            if key.is_diff or key.name not in (eval_config.ACCURACY,
                                               class_accuracy.NAME,
                                               "example_count"):
                continue
            model = models.setdefault(
                "baseline" if key.model_name == "baseline" else "candidate",
                {"per_class_accuracy": {}})
            value = item.value.double_value.value
            if key.name == class_accuracy.NAME and not slice_keys:
                model["per_class_accuracy"][
                    str(key.sub_key.class_id.value)] = value
            elif not slice_keys:
                model["accuracy" if key.name == eval_config.ACCURACY
                      else "example_count"] = value
            elif (slice_keys[0].column == features.LABEL_KEY
                  and key.name == eval_config.ACCURACY):
                # An evaluation written before 2026-12-04 sliced by label.
                model["per_class_accuracy"][
                    str(slice_keys[0].int64_value)] = value
    candidate = models.get("candidate", {"per_class_accuracy": {}})
    metrics: Dict[str, Any] = {
        "accuracy": candidate.get("accuracy"),
        "example_count": int(candidate.get("example_count", 0)),
        "per_class_accuracy": _by_class(candidate["per_class_accuracy"]),
    }
    if "baseline" in models:
        metrics["baseline"] = {
            "accuracy": models["baseline"].get("accuracy"),
            "per_class_accuracy": _by_class(
                models["baseline"]["per_class_accuracy"]),
        }
    matrix = _confusion_matrix(evaluation_uri)
    if matrix:
        metrics["confusion_matrix"] = matrix
    failures = _validation_failures(evaluation_uri, class_names)
    if failures is not None:
        metrics["validation_failures"] = failures
    if class_names:
        metrics["class_names"] = list(class_names)
    return metrics


def _by_class(values: Dict[str, float]) -> Dict[str, float]:
    return dict(sorted(values.items(), key=lambda kv: int(kv[0])))


def _output_file(evaluation_uri: str, name: str) -> bool:
    """Whether TFMA wrote output `name` (plots, validations) there.

    An evaluation without plots (an older eval config) or without a
    validation result (no thresholds) is normal; anything else that goes
    wrong reading an existing file is an error and is raised."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return bool(tf.io.gfile.glob(f"{evaluation_uri.rstrip('/')}/{name}*"))


def _confusion_matrix(evaluation_uri: str) -> Optional[List[List[int]]]:
    """The candidate's overall confusion matrix, if TFMA wrote one."""
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    if not _output_file(evaluation_uri, "plots"):
        logging.info("no plots in %s: no confusion matrix", evaluation_uri)
        return None
    for slice_plots in tfma.load_plots(evaluation_uri):
        if slice_plots.slice_key.single_slice_keys:
            continue
        for item in slice_plots.plot_keys_and_values:
            if item.key.model_name == "baseline":
                continue
            matrices = item.value.multi_class_confusion_matrix_at_thresholds \
                .matrices
            if not matrices or not matrices[0].entries:
                continue
            matrix = matrices[0]  # Threshold 0: the top class predicted.
            size = 1 + max(max(e.actual_class_id, e.predicted_class_id)
                           for e in matrix.entries)
            rows = [[0] * size for _ in range(size)]
            for entry in matrix.entries:
                rows[entry.actual_class_id][entry.predicted_class_id] += \
                    int(entry.num_weighted_examples)
            return rows
    return None


def _validation_failures(evaluation_uri: str,
                         class_names: Optional[Sequence[str]] = None
                         ) -> Optional[List[str]]:
    """Why the gate refused the model ([] if it passed), or None if the
    evaluation had no thresholds."""
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    if not _output_file(evaluation_uri, "validations"):
        logging.info("no validation result in %s", evaluation_uri)
        return None
    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        keys = per_slice.slice_key.single_slice_keys
        where = ("class " + properties.describe_class(
            keys[0].int64_value, class_names) if keys else "overall")
        for failure in per_slice.failures:
            failures.append(_failure(where, failure, class_names))
    return failures


def _failure(where: str, failure, class_names) -> str:
    """One failed threshold in words; a per-class figure names its class."""
    from components.evaluator import class_accuracy  # pylint: disable=import-outside-toplevel
    key = failure.metric_key
    if key.name == class_accuracy.NAME and key.sub_key.HasField("class_id"):
        where = "class " + properties.describe_class(
            key.sub_key.class_id.value, class_names)
        if not failure.HasField("metric_value"):
            return (f"{where}: no eval example has this label, so its "
                    "accuracy cannot be compared with the baseline's (check "
                    "the eval split, or lower the class count in the "
                    "label's schema domain)")
    return (f"{where}: {key.name} "
            f"{failure.metric_value.double_value.value:.4f}"
            f" ({failure.message or 'threshold not met'})")


def record(evaluation, metrics: Dict[str, Any]) -> None:
    """Records the headline figures, and all of `metrics` as JSON unless it
    is too long, on a ModelEvaluation artifact (a TFX artifact, before the
    Launcher publishes it)."""
    recorded = json.dumps(metrics)
    if len(recorded) <= METRICS_PROPERTY_MAX_CHARS:
        evaluation.set_string_custom_property(METRICS_PROPERTY, recorded)
    else:
        logging.info("metrics of %d characters not recorded in ML Metadata; "
                     "readers read TFMA's files at %s", len(recorded),
                     evaluation.uri)
    if metrics.get("accuracy") is not None:
        evaluation.set_float_custom_property(ACCURACY_PROPERTY,
                                             metrics["accuracy"])
    evaluation.set_int_custom_property(EXAMPLE_COUNT_PROPERTY,
                                       metrics.get("example_count", 0))
    evaluation.set_string_custom_property(
        PER_CLASS_ACCURACY_PROPERTY,
        json.dumps(metrics.get("per_class_accuracy", {})))


def recorded_metrics(evaluation) -> Optional[Dict[str, Any]]:
    """What `read_metrics` returned when the Evaluator recorded it on an
    evaluation artifact (an ML Metadata `Artifact` proto), or None for one
    written before it was recorded."""
    value = evaluation.custom_properties.get(METRICS_PROPERTY)
    return json.loads(value.string_value) if value is not None else None


def evaluation_metrics(evaluation, class_names: Optional[Sequence[str]] = None
                       ) -> Dict[str, Any]:
    """An evaluation's metrics (an ML Metadata `Artifact` proto): as the
    Evaluator recorded them, or, for one that did not record them (written
    before, or too long), read from TFMA's files with `read_metrics`."""
    recorded = recorded_metrics(evaluation)
    if recorded is not None:
        return recorded
    return read_metrics(evaluation.uri, class_names)


def recorded_accuracy(evaluation) -> Optional[float]:
    """The accuracy recorded on an evaluation artifact (an ML Metadata
    `Artifact` proto), or None for one written before it was recorded."""
    value = evaluation.custom_properties.get(ACCURACY_PROPERTY)
    return value.double_value if value is not None else None
