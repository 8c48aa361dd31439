"""Scheduled retraining over data that changes between ticks.

The scheduler's loop runs for real, each tick starting a real
`python -m pipeline run` child process, on a TFDS data dir where the test
"releases" new versions of `growing_images` between ticks. Only time is
faked: the clock jumps to the next tick instead of waiting for it.
"""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from pipeline import nodes
from pipeline.scheduling import local as scheduler
from tests import growing_dataset
from tests.conftest import SCHEMA
from tests.pipeline import helpers
from tests.pipeline.scheduling.test_local import FakeTime

PIPELINE = "growing-images-classifier"


def _tree_bytes(path):
    files = {}
    for name in sorted(glob.glob(os.path.join(path, "**"), recursive=True)):
        if os.path.isfile(name):
            with open(name, "rb") as f:
                files[os.path.relpath(name, path)] = f.read()
    return files


def _cli(*args):
    return helpers.run_cli([sys.executable, "-m", "pipeline", *args],
                           timeout=900)


def _render_in_chromium(path, tmp_path):
    """(figures rendered, figures) as headless Chromium sees the report."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}",
         "--virtual-time-budget=5000", "--dump-dom", f"file://{path}"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body"))]
    rendered = int(body.split('data-figures-rendered="')[1].split('"')[0])
    total = int(body.split('data-figures="')[1].split('"')[0])
    return rendered, total


@pytest.mark.slow
def test_schedule_retrains_only_on_new_data_and_never_serves_worse(
        tmp_path):
    data_dir, out = str(tmp_path / "tfds"), tmp_path / "out"
    serving = out / "serving"
    args = ["--output-dir", str(out), "--dataset", growing_dataset.NAME,
            "--tfds-data-dir", data_dir, "--schema", SCHEMA, "--epochs", "2"]
    growing_dataset.release(data_dir, "1.0.0")
    shard = None

    def before_tick(tick):
        nonlocal shard
        if tick == 3:
            growing_dataset.release(data_dir, "2.0.0")  # More examples.
        if tick == 4:
            growing_dataset.release(data_dir, "3.0.0")  # Corrupt labels.
        if tick == 5:  # A broken shard: this run fails.
            [shard] = glob.glob(os.path.join(
                data_dir, growing_dataset.NAME, "3.0.0", "*train*"))
            shutil.copy(shard, str(tmp_path / "shard"))
            with open(shard, "r+b") as f:
                f.truncate(os.path.getsize(shard) // 2)
        if tick == 6:  # Mended.
            shutil.copy(str(tmp_path / "shard"), shard)

    summaries, serving_before = {}, {}
    run_child = scheduler.run_command(args)

    def run_once(register):
        tick = len(summaries) + 1
        before_tick(tick)
        serving_before[tick] = _tree_bytes(str(serving))
        code = run_child(register)
        with open(out / "last_run.json", encoding="utf-8") as f:
            summaries[tick] = (code, json.load(f))
        return code

    fake, lines = FakeTime(), []
    loop = scheduler.Scheduler("0 3 * * *", run_once, echo=lines.append,
                               clock=fake.clock, sleep=fake.sleep,
                               max_runs=6)
    codes = loop.loop()
    assert codes == [0, 0, 0, 0, 1, 0], "\n".join(lines)
    assert any("run FAILED (exit 1)" in line for line in lines)

    def statuses(tick):
        return set(summaries[tick][1]["components"][n]["status"]
                   for n in helpers.CACHEABLE)

    # 1: first data -> trained, blessed, pushed.
    first = summaries[1][1]
    assert statuses(1) == {"executed"} and first["data"]["new"] is True
    version_a = os.path.basename(first["pushed_model"])
    # 2: nothing changed -> fully cached, nothing pushed, "no new data".
    second = summaries[2][1]
    assert statuses(2) == {"cached"}
    assert second["data"] == dict(first["data"], new=False,
                                  note="no new data")
    assert second["pushed_model"] is None
    # 3: new examples (a new TFDS version) -> retrained and pushed.
    third = summaries[3][1]
    assert third["dataset"]["version"] == "2.0.0"
    assert third["components"][nodes.TRAINER]["status"] == "executed"
    assert third["blessed"] and third["metrics"]["baseline"]["accuracy"]
    version_b = os.path.basename(third["pushed_model"])
    assert int(version_b) > int(version_a)
    # 4: worse data -> the model is worse -> not blessed, not pushed, and
    # the served model is untouched, byte for byte.
    fourth = summaries[4][1]
    assert fourth["components"][nodes.TRAINER]["status"] == "executed"
    assert not fourth["blessed"] and fourth["pushed_model"] is None
    assert fourth["metrics"]["accuracy"] < \
        fourth["metrics"]["baseline"]["accuracy"]
    assert fourth["metrics"]["validation_failures"]
    assert _tree_bytes(str(serving)) == serving_before[4]
    assert fourth["serving_model"].endswith(version_b)
    # 5 failed (broken shard); 6: data mended -> as run 4, all cached.
    assert summaries[5][1]["components"][nodes.EXAMPLE_GEN]["status"] == \
        "failed"
    assert statuses(6) == {"cached"} and summaries[6][1]["data"]["new"] is \
        False
    assert helpers.serving_versions(str(serving)) == [version_a, version_b]

    # `runs` and `models` tell all of it, from ML Metadata.
    result = _cli("runs", "--output-dir", str(out), "--json")
    assert result.returncode == 0, result.stderr
    runs = {r["run_id"]: r for r in json.loads(result.stdout)}
    by_tick = {t: runs[s["run_id"]] for t, (_, s) in summaries.items()}
    assert [by_tick[t]["status"] for t in range(1, 7)] == [
        "succeeded", "succeeded", "succeeded", "succeeded", "failed",
        "succeeded"]
    assert [by_tick[t]["pushed_version"] for t in range(1, 7)] == [
        version_a, None, version_b, None, None, None]
    assert [by_tick[t]["blessed"] for t in (1, 3, 4)] == [True, True, False]
    assert by_tick[2]["components"][nodes.TRAINER] == "cached"
    assert by_tick[3]["data_fingerprint"] != by_tick[1]["data_fingerprint"]
    assert by_tick[2]["data_fingerprint"] == by_tick[1]["data_fingerprint"]
    assert by_tick[4]["accuracy"] == pytest.approx(
        fourth["metrics"]["accuracy"])
    table = _cli("runs", "--output-dir", str(out))
    assert table.returncode == 0 and version_b in table.stdout

    result = _cli("models", "--output-dir", str(out), "--json")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    assert [m["version"] for m in models] == [version_b, version_a]
    assert [m["dataset"] for m in models] == [
        "growing_images:2.0.0", "growing_images:1.0.0"]
    assert [m["trained_in_run"] for m in models] == [
        summaries[3][1]["run_id"], summaries[1][1]["run_id"]]
    assert models[0]["data_fingerprint"] == by_tick[3]["data_fingerprint"]

    # From an external cron: nothing new since the last good run -> no run.
    result = _cli("schedule", "--target", "local", "--once-if-changed", *args)
    assert result.returncode == 0, result.stderr
    assert "no new data" in result.stdout
    # TensorFlow's start-up noise (CUDA plugins, CPU features) stays off a
    # scheduler's console; `runs` does not load TensorFlow at all.
    assert "cuda" not in result.stderr.lower(), result.stderr
    listed = _cli("runs", "--output-dir", str(out), "--json", "--limit", "0")
    assert "tensorflow" not in listed.stderr.lower(), listed.stderr
    after = json.loads(listed.stdout)
    assert len(after) == 6

    # Every run wrote its report; Chromium renders one with all figures.
    third_report = summaries[3][1]["report"]
    assert os.path.isfile(third_report)
    assert all(os.path.isfile(s["report"]) for _, s in summaries.values())
    rendered, total = _render_in_chromium(third_report, tmp_path)
    assert total >= 5 and rendered == total
    with open(third_report, encoding="utf-8") as f:
        page = f.read()
    for section in ("Components", "Dataset statistics", "Training",
                    "Evaluation", "Confusion matrix", "baseline accuracy",
                    version_b):
        assert section in page, section
