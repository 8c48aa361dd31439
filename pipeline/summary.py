"""The run summary: what ran, the model's metrics, blessing and push.

Outputs are read back from ML Metadata (the run's executions and the
artifacts they produced), so the summary reports what the pipeline
recorded, cached executions included.
"""

import json
import os
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import features
from components.evaluator import eval_config
from pipeline import progress

_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT,
                  metadata_store_pb2.Event.DECLARED_OUTPUT)


def node_outputs(store: metadata_store.MetadataStore, pipeline_name: str,
                 run_id: str, node_id: str
                 ) -> Dict[str, List[metadata_store_pb2.Artifact]]:
    """Output artifacts, by output key, of `node_id`'s execution in a run."""
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    node = store.get_context_by_type_and_name("node",
                                              f"{pipeline_name}.{node_id}")
    if run is None or node is None:
        return {}
    in_run = {e.id for e in store.get_executions_by_context(run.id)}
    executions = [e for e in store.get_executions_by_context(node.id)
                  if e.id in in_run]
    if not executions:
        return {}
    execution = max(executions, key=lambda e: e.id)
    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type in _OUTPUT_EVENTS]
    artifacts = {a.id: a for a in store.get_artifacts_by_id(
        [e.artifact_id for e in events])}
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    return outputs


def node_states(store: metadata_store.MetadataStore, pipeline_name: str,
                run_id: str) -> Dict[str, str]:
    """Node id -> state of its execution in a run (COMPLETE, CACHED, ...)."""
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        return {}
    in_run = store.get_executions_by_context(run.id)
    names = {value: name for name, value in
             metadata_store_pb2.Execution.State.items()}
    prefix = f"{pipeline_name}."
    states = {}
    for context in store.get_contexts_by_type("node"):
        if not context.name.startswith(prefix):
            continue
        ids = {e.id for e in store.get_executions_by_context(context.id)}
        mine = [e for e in in_run if e.id in ids]
        if mine:
            states[context.name[len(prefix):]] = names[
                max(mine, key=lambda e: e.id).last_known_state]
    return states


def custom_property(artifact: metadata_store_pb2.Artifact, key: str):
    """A custom property's value (int, float or string), or None."""
    value = artifact.custom_properties.get(key)
    if value is None:
        return None
    return getattr(value, value.WhichOneof("value"))


def read_metrics(evaluation_uri: str) -> Dict[str, Any]:
    """From a TFMA output directory: the candidate's overall accuracy,
    example count and per-class accuracy; the baseline's, when the
    Evaluator had one; the candidate's confusion matrix (rows: true class,
    columns: predicted); and why validation failed, if it did."""
    models: Dict[str, Dict[str, Any]] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        slice_keys = slice_metrics.slice_key.single_slice_keys
        for item in slice_metrics.metric_keys_and_values:
            key = item.key
            if key.is_diff or key.name not in (eval_config.ACCURACY,
                                               "example_count"):
                continue
            model = models.setdefault(
                "baseline" if key.model_name == "baseline" else "candidate",
                {"per_class_accuracy": {}})
            value = item.value.double_value.value
            if not slice_keys:
                model["accuracy" if key.name == eval_config.ACCURACY
                      else "example_count"] = value
            elif (slice_keys[0].column == features.LABEL_KEY
                  and key.name == eval_config.ACCURACY):
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
    failures = _validation_failures(evaluation_uri)
    if failures is not None:
        metrics["validation_failures"] = failures
    return metrics


def _by_class(values: Dict[str, float]) -> Dict[str, float]:
    return dict(sorted(values.items(), key=lambda kv: int(kv[0])))


def _confusion_matrix(evaluation_uri: str) -> Optional[List[List[int]]]:
    """The candidate's overall confusion matrix, if TFMA wrote one."""
    try:
        plots = list(tfma.load_plots(evaluation_uri))
    except Exception:  # pylint: disable=broad-except
        return None  # No plots file (an evaluation from an older config).
    for slice_plots in plots:
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


def _validation_failures(evaluation_uri: str) -> Optional[List[str]]:
    """Why the gate refused the model ([] if it passed), or None."""
    try:
        result = tfma.load_validation_result(evaluation_uri)
    except Exception:  # pylint: disable=broad-except
        return None
    failures = []
    for per_slice in result.metric_validations_per_slice:
        keys = per_slice.slice_key.single_slice_keys
        where = (f"class {keys[0].int64_value}" if keys else "overall")
        for failure in per_slice.failures:
            failures.append(f"{where}: {failure.metric_key.name} "
                            f"{failure.metric_value.double_value.value:.4f}"
                            f" ({failure.message or 'threshold not met'})")
    return failures


def build(store: metadata_store.MetadataStore, *, pipeline_name: str,
          run_id: str, runner: str, dataset: Dict[str, str],
          records: Dict[str, progress.NodeRecord], wall_seconds: float,
          serving_dir: str) -> Dict[str, Any]:
    """The `last_run.json` document."""
    examples = node_outputs(store, pipeline_name, run_id,
                            "TfdsExampleGen").get("examples", [])
    evaluator = node_outputs(store, pipeline_name, run_id, "Evaluator")
    pusher = node_outputs(store, pipeline_name, run_id, "Pusher")
    metrics: Dict[str, Any] = {}
    if evaluator.get("evaluation"):
        metrics = read_metrics(evaluator["evaluation"][0].uri)
    blessed = bool(evaluator.get("blessing")) and custom_property(
        evaluator["blessing"][0], "blessed") == 1
    pushed_model: Optional[str] = None
    pusher_record = records.get("Pusher")
    if (pusher.get("pushed_model") and pusher_record
            and pusher_record.status == progress.EXECUTED
            and custom_property(pusher["pushed_model"][0], "pushed") == 1):
        pushed_model = custom_property(pusher["pushed_model"][0],
                               "pushed_destination")
    example_gen = records.get("TfdsExampleGen")
    status = example_gen.status if example_gen else None
    new_data = {progress.EXECUTED: True, progress.CACHED: False}.get(status)
    return {
        "run_id": run_id,
        "runner": runner,
        "dataset": dataset,
        "data": {
            "fingerprint": (custom_property(examples[0], "data_fingerprint")
                            if examples else None),
            "new": new_data,
            "note": {True: "new data", False: "no new data"}.get(
                new_data, "data not read"),
        },
        "components": {node_id: {"status": r.status,
                                 "seconds": round(r.seconds, 3)}
                       for node_id, r in records.items()},
        "metrics": metrics,
        "blessed": blessed,
        "pushed_model": pushed_model,
        "serving_model": latest_version(serving_dir),
        "wall_seconds": round(wall_seconds, 3),
    }


def latest_version(serving_dir: str) -> Optional[str]:
    """The version directory TensorFlow Serving would serve, if any."""
    if not os.path.isdir(serving_dir):
        return None
    versions = [int(n) for n in os.listdir(serving_dir) if n.isdigit()]
    return os.path.join(serving_dir, str(max(versions))) if versions else None


def write(summary: Dict[str, Any], path: str) -> None:
    """Writes the summary as JSON, atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    os.replace(tmp, path)
