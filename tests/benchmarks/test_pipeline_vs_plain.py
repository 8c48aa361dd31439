"""The benchmark's work checks: a run that did not do the work it reports
is NOT MET, never a crash."""

import math

from benchmarks import pipeline_vs_plain as bench
from pipeline import nodes


def _run(statuses, evaluated=10_000, examples=None):
    return {"statuses": statuses, "evaluated": evaluated,
            "examples": {"train": 60_000, "eval": 10_000}
            if examples is None else examples}


def _met(rows):
    return [v <= t if op == "<=" else v >= t for _, v, op, t in rows]


def test_a_run_that_did_the_work_meets_its_checks():
    run = _run({nodes.TRAINER: "executed", nodes.BASELINE_RESOLVER: "x"})
    assert _met(bench._work_checks("cold", run, "executed")) == [True, True]


def test_a_cached_node_in_a_cold_run_or_a_short_evaluation_is_not_met():
    run = _run({nodes.TRAINER: "cached"}, evaluated=9_999)
    assert _met(bench._work_checks("cold", run, "executed")) == [False,
                                                                   False]


def test_counts_that_were_not_recorded_are_not_met():
    for run in (_run({}, evaluated=None), _run({}, examples={}),
                _run({}, examples={"eval": 0})):
        [_, (_, value, _, _)] = bench._work_checks("cold", run, "executed")
        assert math.isnan(value)
