"""Optional: the real Fashion-MNIST, prepared offline from a manual dir.

Enabled by PIPELINE_TEST_TFDS_MANUAL_DIR pointing at the four official
files (.ci/run sets it when ../shared/datasets/fashion_mnist exists). The
seed's plain Keras script reaches 0.876 test accuracy on these machines.
"""

import json
import os
import sys

import pytest

from tests.pipeline import helpers

MANUAL_DIR = os.environ.get("PIPELINE_TEST_TFDS_MANUAL_DIR")

pytestmark = [
    pytest.mark.slow, pytest.mark.full_data,
    pytest.mark.skipif(not MANUAL_DIR, reason=(
        "set PIPELINE_TEST_TFDS_MANUAL_DIR to the Fashion-MNIST files to "
        "run the full-data test")),
]


def test_fashion_mnist_reaches_seed_accuracy(tmp_path):
    result = helpers.run_cli(
        [sys.executable, "-m", "pipeline", "run",
         "--output-dir", str(tmp_path / "out"),
         "--tfds-data-dir", str(tmp_path / "tfds"),
         "--tfds-manual-dir", MANUAL_DIR], timeout=3000)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "out" / "last_run.json", encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["dataset"] == {"name": "fashion_mnist", "version": "3.0.1"}
    assert summary["metrics"]["example_count"] == 10_000
    assert summary["metrics"]["accuracy"] >= 0.87
    assert summary["blessed"] is True and summary["pushed_model"]
    record = helpers.training_records(tmp_path / "out")[0]
    assert len(record["history"]["loss"]) == 5
