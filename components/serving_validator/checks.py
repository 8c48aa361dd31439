"""Whether what the probe saw is a model a server can be trusted with: a
pure function of the probe's JSON, testable without TensorFlow."""

import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np

from components.tfds_example_gen import properties

# Probabilities of one example may differ from 1 by float32 rounding only.
SUM_TOLERANCE = 1e-3
# Both signatures run the same graph after parsing; only rounding differs.
AGREEMENT_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The decision, why, and the latencies measured.

    Attributes:
      passed: every check held.
      reasons: why the model was refused ([] if it passed).
      latency_ms: signature -> {"p50_batch_1": ms, "p99_batch_1": ms, ...}.
    """
    passed: bool
    reasons: List[str]
    latency_ms: Dict[str, Dict[str, float]]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _check_probabilities(name: str, probabilities: np.ndarray,
                         shape, class_names) -> List[str]:
    if probabilities.shape != shape:
        return [f"{name} returns probabilities of shape "
                f"{list(probabilities.shape)}, not {list(shape)} (examples x "
                "classes)"]
    if not np.isfinite(probabilities).all():
        return [f"{name} returns values that are not finite"]
    if (probabilities < 0).any() or (probabilities > 1).any():
        return [f"{name} returns values outside [0, 1]"]
    sums = probabilities.sum(axis=1)
    worst = int(np.abs(sums - 1).argmax())
    if abs(sums[worst] - 1) > SUM_TOLERANCE:
        top = properties.describe_class(int(probabilities[worst].argmax()),
                                        class_names)
        return [f"{name}'s probabilities for example {worst} sum to "
                f"{sums[worst]:.4f}, not 1 (top class {top})"]
    return []


def latency(times_ms: Dict[str, List[float]]) -> Dict[str, float]:
    """p50 and p99 of each batch size's call times."""
    result = {}
    for size, times in sorted(times_ms.items(), key=lambda kv: int(kv[0])):
        result[f"p50_batch_{size}"] = round(float(np.percentile(times, 50)),
                                            3)
        result[f"p99_batch_{size}"] = round(float(np.percentile(times, 99)),
                                            3)
    return result


def judge(seen: dict, num_classes: int, num_examples: int,
          class_names: Optional[Sequence[str]] = None) -> Verdict:
    """The verdict on a probe's result (see probe.py).

    Args:
      seen: what the probe wrote.
      num_classes: the classes the schema declares.
      num_examples: how many examples each signature was called with.
      class_names: the dataset's class names, for messages.
    """
    if not seen.get("loaded"):
        return Verdict(False, [f"the model does not load: "
                               f"{seen.get('error', 'unknown error')}"], {})
    reasons: List[str] = []
    warmup = seen.get("warmup") or {}
    if "error" in warmup:
        reasons.append("its TensorFlow Serving warm-up file fails, so a "
                       f"server would not load it: {warmup['error']}")
    answers = {}
    latencies = {}
    for name, signature in seen["signatures"].items():
        if "error" in signature:
            reasons.append(f"{name}: {signature['error']}")
            continue
        probabilities = np.asarray(signature["probabilities"],
                                   dtype=np.float64)
        problems = _check_probabilities(
            name, probabilities, (num_examples, num_classes), class_names)
        reasons.extend(problems)
        if not problems:
            answers[name] = probabilities
        latencies[name] = latency(signature.get("latency_ms", {}))
    if len(answers) == 2:
        (first, a), (second, b) = sorted(answers.items())
        different = int((a.argmax(axis=1) != b.argmax(axis=1)).sum())
        largest = float(np.abs(a - b).max())
        if different or largest > AGREEMENT_TOLERANCE:
            reasons.append(
                f"{first} and {second} disagree on the same examples "
                f"(largest difference {largest:.2g}; another class for "
                f"{different} of {num_examples})")
    return Verdict(not reasons, reasons, latencies)
