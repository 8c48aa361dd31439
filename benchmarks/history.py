"""`runs` and `models` on a long history: a store with N recorded runs.

Builds a sqlite ML Metadata store holding N runs of the real pipeline's DAG
(recorded the way TFX's Launcher records them, with TFX's own helpers; see
tests/pipeline/metadata/fake_runs.py: every fifth run trains on new data and
pushes, the others are fully cached), then times, in fresh processes as a
user runs them:

  python -m pipeline runs   --metadata sqlite:///...            (20 newest)
  python -m pipeline runs   --metadata sqlite:///... --limit 0  (all N)
  python -m pipeline models --metadata sqlite:///... --limit 0
  python -c "import pipeline"                                   (start-up)

and, in this process, the queries behind them and behind
`schedule --once-if-changed`. Prints a table; exits 0.

  .venv/bin/python benchmarks/history.py [--runs 200] [--keep DIR]
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _build(directory: pathlib.Path, runs: int) -> pathlib.Path:
    from pipeline import nodes  # pylint: disable=import-outside-toplevel
    from tests.pipeline.metadata import fake_runs  # pylint: disable=import-outside-toplevel
    path = directory / "metadata.sqlite"
    fake = fake_runs.FakeStore(directory, sqlite_path=str(path))
    for i in range(runs):
        if i % 5 == 0:
            outcome = fake_runs.Outcome(fingerprint=f"{i:064d}",
                                        accuracy=0.85 + i / (100 * runs))
        else:
            outcome = fake_runs.Outcome(
                default=fake_runs.CACHED,
                by_node={nodes.BASELINE_RESOLVER: fake_runs.EXECUTED})
        fake.run(f"run-{i:05d}", outcome)
    fake.close()
    return path


def _wall(args, repeats: int) -> float:
    """Median wall seconds of a command in a fresh process."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(args, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _in_process(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", default=None,
                        help="Build the store in this (new) dir and keep it.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(args.keep or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        path = _build(directory, args.runs)
        built = time.perf_counter() - started
        url = f"sqlite://{path}"
        python = [sys.executable]
        cli = [*python, "-m", "pipeline"]
        rows = [
            ("interpreter + `import pipeline.cli`",
             _wall([*python, "-c", "import pipeline.cli"], args.repeats)),
            ("runs (20 newest)",
             _wall([*cli, "runs", "--metadata", url], args.repeats)),
            (f"runs --limit 0 (all {args.runs})",
             _wall([*cli, "runs", "--metadata", url, "--limit", "0"],
                   args.repeats)),
            ("models --limit 0",
             _wall([*cli, "models", "--metadata", url, "--limit", "0"],
                   args.repeats)),
        ]
        from pipeline.metadata import history  # pylint: disable=import-outside-toplevel
        from pipeline.metadata import runs  # pylint: disable=import-outside-toplevel
        from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
        store = metadata_store.open_store(url, read_only=True)
        [name] = runs.pipeline_names(store)
        queries = [
            ("run_records(limit=20)",
             _in_process(lambda: history.run_records(store, name, 20),
                         args.repeats)),
            (f"run_records(all {args.runs})",
             _in_process(lambda: history.run_records(store, name),
                         args.repeats)),
            ("model_records(all)",
             _in_process(lambda: history.model_records(store, name),
                         args.repeats)),
            ("decide_on_data (--once-if-changed's query)",
             _in_process(lambda: runs.decide_on_data(
                 store, runs.last_successful(store, name), name, "0" * 64,
                 "dataset"), args.repeats)),
        ]
        pushed = len(history.model_records(store, name))
    print(f"Store: {args.runs} runs ({pushed} pushed models), built in "
          f"{built:.1f} s; medians of {args.repeats}.")
    print(f"{'command (fresh process)':44} {'wall s':>8}")
    for label, seconds in rows:
        print(f"{label:44} {seconds:8.2f}")
    print(f"{'query (in process)':44} {'ms':>8}")
    for label, seconds in queries:
        print(f"{label:44} {seconds * 1000:8.1f}")


if __name__ == "__main__":
    main()
