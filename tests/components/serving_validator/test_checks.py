"""The verdict on what the probe saw: pure, no TensorFlow."""

import numpy as np

from components.serving_validator import checks


def _seen(default, images=None, times=(1.0, 2.0, 3.0)):
    signatures = {}
    for name, probabilities in (("serving_default", default),
                                ("serving_images", images if images is not
                                 None else default)):
        signatures[name] = {"probabilities": np.asarray(
            probabilities).tolist(), "latency_ms": {"1": list(times),
                                                    "64": list(times)}}
    return {"loaded": True, "signatures": signatures}


def _uniform(examples=4, classes=3):
    return np.full((examples, classes), 1 / classes)


def test_good_answers_pass_with_percentiles():
    verdict = checks.judge(_seen(_uniform()), 3, 4)
    assert verdict.passed and verdict.reasons == []
    assert verdict.latency_ms["serving_default"]["p50_batch_1"] == 2.0
    assert verdict.latency_ms["serving_images"]["p99_batch_64"] == \
        round(float(np.percentile([1.0, 2.0, 3.0], 99)), 3)


def test_each_defect_is_named():
    assert checks.judge({"loaded": False, "error": "OSError: gone"}, 3,
                        4).reasons == ["the model does not load: OSError: "
                                       "gone"]
    wrong = checks.judge(_seen(_uniform(4, 2)), 3, 4)
    assert "shape [4, 2], not [4, 3]" in wrong.reasons[0]
    halves = _uniform() / 2
    summed = checks.judge(_seen(halves), 3, 4, class_names=["a", "b", "c"])
    assert "sum to 0.5000, not 1 (top class 0 (a))" in summed.reasons[0]
    nan = _uniform()
    nan[1, 1] = np.nan
    assert "not finite" in checks.judge(_seen(nan), 3, 4).reasons[0]
    other = np.eye(3)[[0, 1, 2, 0]]
    disagree = checks.judge(_seen(np.eye(3)[[0, 1, 2, 1]], other), 3, 4)
    assert disagree.reasons == [
        "serving_default and serving_images disagree on the same examples "
        "(largest difference 1; another class for 1 of 4)"]


def test_a_missing_signature_is_named():
    seen = _seen(_uniform())
    seen["signatures"]["serving_images"] = {
        "error": "no signature 'serving_images'; the model has "
                 "['serving_default']"}
    verdict = checks.judge(seen, 3, 4)
    assert not verdict.passed
    assert verdict.reasons == ["serving_images: no signature "
                               "'serving_images'; the model has "
                               "['serving_default']"]
