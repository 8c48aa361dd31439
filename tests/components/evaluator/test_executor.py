"""The Evaluator's executor around TFX's: what TFMA runs under, and the
metrics it records afterwards."""

import numpy as np
from tfx.components.evaluator import executor as tfx_executor
from tfx.types import standard_artifacts

from components.evaluator import executor
from components.evaluator import metrics


def test_tfma_runs_with_batches_printed_short(monkeypatch):
    """TFMA's positional call of the serving signature makes TensorFlow
    print each batch into an error message it drops (executor.py)."""
    seen = {}
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = "/nowhere"
    examples = standard_artifacts.Examples()
    examples.set_string_custom_property("class_names", '["cat", "dog"]')
    monkeypatch.setattr(
        tfx_executor.Executor, "Do",
        lambda self, i, o, e: seen.update(
            threshold=np.get_printoptions()["threshold"],
            text=repr(np.array([b"x" * 800] * 1000, dtype=object))))
    monkeypatch.setattr(metrics, "read_metrics",
                        lambda uri, names: {"uri": uri, "names": names})
    monkeypatch.setattr(metrics, "record",
                        lambda artifact, read: seen.update(recorded=read))
    before = np.get_printoptions()["threshold"]
    executor.Executor().Do({"examples": [examples]},
                           {"evaluation": [evaluation]}, {})
    assert seen["threshold"] <= 16 and len(seen["text"]) < 8000
    assert seen["recorded"] == {"uri": "/nowhere", "names": ["cat", "dog"]}
    assert before > 16 and np.get_printoptions()["threshold"] == before
