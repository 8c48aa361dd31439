"""The run summary: what ran, the model's metrics, blessing and push.

Outputs are read back from ML Metadata (the run's executions and the
artifacts they produced), so the summary reports what the pipeline
recorded, cached executions included.
"""

import json
import logging
import os
from typing import Any, Dict, Optional

from components.evaluator import metrics as evaluator_metrics
from components.pusher import serving_dir as layout
from components.serving_validator import model_card
from components.serving_validator import properties as validator_properties
from pipeline import nodes
from pipeline.metadata import lineage
from pipeline.metadata import models
from pipeline.metadata import runs
from pipeline.metadata.store import MetadataStore
from pipeline.reporting import progress

def _metrics(evaluation, class_names=None) -> Dict[str, Any]:
    """The evaluation's metrics (an ML Metadata artifact), as the Evaluator
    recorded them; for an evaluation from before it recorded them, read
    from TFMA's files, and if those cannot be read, says so in the summary
    (and the log) instead of leaving parts out."""
    try:
        return evaluator_metrics.evaluation_metrics(evaluation, class_names)
    except Exception as error:  # pylint: disable=broad-except
        logging.exception("cannot read the evaluation at %s", evaluation.uri)
        return {"unreadable": f"{evaluation.uri}: {type(error).__name__}: "
                              f"{error}"}


def build(store: MetadataStore, run: Optional[runs.Run], *,
          run_id: str, runner: str, dataset: Dict[str, str],
          records: Dict[str, progress.NodeRecord], wall_seconds: float,
          serving_dir: str,
          time_split: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """The `last_run.json` document.

    `time_split` has the run's `startup_seconds` (process start, imports
    and settings, before `wall_seconds` began) and `preflight_seconds`
    (dataset checks and compiling, within `wall_seconds`). `run` is the
    run as ML Metadata recorded it (None if no node started)."""
    outputs = ((lambda node_id: runs.outputs(store, run, node_id)) if run
               else (lambda node_id: {}))
    examples = outputs(nodes.EXAMPLE_GEN).get(nodes.EXAMPLES_KEY, [])
    evaluator = outputs(nodes.EVALUATOR)
    pusher = outputs(nodes.PUSHER)
    metrics: Dict[str, Any] = {}
    if evaluator.get(nodes.EVALUATION_KEY):
        metrics = _metrics(evaluator[nodes.EVALUATION_KEY][0],
                           runs.class_names(examples[0] if examples
                                            else None))
    blessings = evaluator.get(nodes.BLESSING_KEY)
    blessed = bool(blessings) and lineage.custom_property(
        blessings[0], models.BLESSED_PROPERTY) == 1
    state = run.state if run else (lambda node_id: None)
    pushed_model: Optional[str] = None
    pushed = pusher.get(nodes.PUSHED_MODEL_KEY)
    # Pushed by this run: executed now, not found in the cache.
    if (pushed and state(nodes.PUSHER) == runs.EXECUTED_STATE
            and lineage.custom_property(
                pushed[0], models.PUSHED_PROPERTY) == 1):
        pushed_model = lineage.custom_property(
            pushed[0], models.PUSHED_DESTINATION_PROPERTY)
    validation = outputs(nodes.SERVING_VALIDATOR).get(nodes.BLESSING_KEY)
    served = latest_version(serving_dir)
    new_data = {runs.EXECUTED_STATE: True, runs.CACHED_STATE: False}.get(
        state(nodes.EXAMPLE_GEN))
    first_began = min((r.began for r in records.values()
                       if r.logged and r.began is not None), default=0.0)
    return {
        "run_id": run_id,
        "runner": runner,
        "dataset": dataset,
        "data": {
            "fingerprint": (lineage.custom_property(
                examples[0], runs.FINGERPRINT_PROPERTY) if examples
                else None),
            "new": new_data,
            "examples": runs.example_counts(examples[0] if examples
                                            else None),
            "note": {True: "new data", False: "no new data"}.get(
                new_data, "data not read"),
        },
        "components": {node_id: {
            "status": r.status, "seconds": round(r.seconds, 3),
            "started_seconds": (round(r.began - first_began, 3)
                                if r.logged and r.began is not None
                                else None),
            "work_seconds": round(r.work_seconds, 3),
            "overhead_seconds": round(r.overhead_seconds, 3),
            "beam_setup_seconds": round(r.beam_setup_seconds, 3),
            "timed_by": "log" if r.logged else "metadata"}
            for node_id, r in records.items()},
        "time": _time_split(records, wall_seconds, time_split or {}),
        "metrics": metrics,
        "blessed": blessed,
        "serving_validation": (_serving_validation(validation[0])
                               if validation else None),
        "pushed_model": pushed_model,
        "serving_model": served,
        "model_card": _model_card(served),
        "wall_seconds": round(wall_seconds, 3),
    }


def _time_split(records: Dict[str, progress.NodeRecord],
                wall_seconds: float, split: Dict[str, float]
                ) -> Dict[str, float]:
    """Where the run's time went: useful work (the executors) and
    overhead (start-up and imports, checks and compiling, Beam's set-up,
    each node's launcher, and what came after the last node). Nodes that
    ran side by side count in full in both; the time they overlapped is
    `side_by_side_seconds`, so that the total is work plus overhead less
    it."""
    work = sum(r.work_seconds for r in records.values())
    beam_setup = sum(r.beam_setup_seconds for r in records.values())
    launcher = sum(r.overhead_seconds for r in records.values()) - beam_setup
    side_by_side = _overlap(records.values())
    preflight = split.get("preflight_seconds", 0.0)
    startup = split.get("startup_seconds", 0.0)
    after = max(0.0, wall_seconds - preflight - work - beam_setup - launcher
                + side_by_side)
    return {k: round(v, 3) for k, v in {
        "total_seconds": startup + wall_seconds,
        "work_seconds": work,
        "overhead_seconds": startup + preflight + beam_setup + launcher
                            + after,
        "side_by_side_seconds": side_by_side,
        "startup_seconds": startup,
        "preflight_seconds": preflight,
        "beam_setup_seconds": beam_setup,
        "launcher_seconds": launcher,
        "after_seconds": after,
    }.items()}


def _overlap(records) -> float:
    """How much longer the nodes' times add up to than the time during
    which any of them ran (0 for nodes one after the other)."""
    spans = sorted((r.began, r.ended) for r in records
                   if r.logged and r.began is not None and r.ended is not None)
    covered, reach = 0.0, None
    for began, ended in spans:
        if reach is None or began >= reach:
            covered += ended - began
            reach = ended
        elif ended > reach:
            covered += ended - reach
            reach = ended
    return max(0.0, sum(ended - began for began, ended in spans) - covered)


def _serving_validation(blessing) -> Dict[str, Any]:
    """ServingValidator's verdict, as it recorded it on its blessing."""
    latency = lineage.custom_property(blessing,
                                      validator_properties.LATENCY_MS)
    return {
        "passed": lineage.custom_property(
            blessing, validator_properties.BLESSED) == 1,
        "reason": lineage.custom_property(
            blessing, validator_properties.REASON) or None,
        "latency_ms": json.loads(latency) if latency else {},
        "details": os.path.join(blessing.uri,
                                validator_properties.RESULT_FILE),
    }


def _model_card(version_dir: Optional[str]) -> Optional[str]:
    """The HTML model card of a served version, if it has one (versions
    pushed before serving validation have none)."""
    if not version_dir:
        return None
    path = f"{version_dir}/{model_card.HTML_FILE}"
    return path if layout.FILES.exists(path) else None


def latest_version(serving_dir: str) -> Optional[str]:
    """The version directory TensorFlow Serving would serve, if any."""
    versions = layout.versions(serving_dir)
    return layout.version_dir(serving_dir, versions[-1]) if versions else None


def write(summary: Dict[str, Any], path: str) -> None:
    """Writes the summary as JSON, atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    os.replace(tmp, path)
