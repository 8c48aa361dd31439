"""ExampleValidator executor that stops the run when the data has anomalies.

TFX's ExampleValidator only records anomalies (and an unblessed property);
nothing downstream reads them, so a model trained on bad data would be
evaluated and pushed. This executor raises after validating, naming each
anomaly; the Evaluator waits for it (pipeline/factory.py), so the run stops
before any model is evaluated, blessed or pushed.
"""

from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.components.example_validator import executor as validator_executor


class DataAnomaliesError(RuntimeError):
    """The data does not match the committed schema."""


def describe(anomalies: anomalies_pb2.Anomalies) -> List[str]:
    """One line per anomaly: feature, short and long description."""
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        lines.append(f"feature {feature!r}: {info.short_description} "
                     f"({info.description})")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"dataset: {info.short_description} ({info.description})")
    return lines


class Executor(validator_executor.Executor):
    """TFX's ExampleValidator, failing on any anomaly."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]):
        self._found: List[str] = []
        result = super().Do(input_dict, output_dict, exec_properties)
        if self._found:
            raise DataAnomaliesError(
                "the data does not match the committed schema, so no "
                "model trained on it is evaluated or pushed: "
                + "; ".join(self._found) + ". Fix the data, or update the "
                "schema if the change is intended.")
        return result

    def _Validate(self, inputs: Dict[str, Any],
                  outputs: Dict[str, Any]) -> anomalies_pb2.Anomalies:
        anomalies = super()._Validate(inputs, outputs)
        self._found.extend(describe(anomalies))
        return anomalies
