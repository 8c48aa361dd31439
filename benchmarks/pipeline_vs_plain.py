"""Pipeline vs the seed's plain Keras script, on the same data, in one run.

Prepares Fashion-MNIST once (offline, from a TFDS manual dir), then runs,
each in a fresh process: the plain script, the pipeline cold (new output
dir), and the pipeline again (fully cached). Prints a table and JSON: wall
seconds, ratios to the plain script, test accuracy, examples per second of
ExampleGen and Trainer, and peak memory (RSS of the process tree).

  .venv/bin/python benchmarks/pipeline_vs_plain.py \
      --manual-dir ../shared/datasets/fashion_mnist
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import psutil
from pipeline import nodes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TRAIN_EXAMPLES, TEST_EXAMPLES = 60_000, 10_000


def measured(args, env):
    """Runs a command; returns (wall seconds, peak tree RSS in MiB, stdout)."""
    peak = 0
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=REPO, env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    done = threading.Event()

    def sample():
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root] + root.children(recursive=True)
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    done.set()
    sampler.join()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{stdout}")
    return wall, peak / 2**20, stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manual-dir",
                        default=os.environ.get("PIPELINE_TFDS_MANUAL_DIR"),
                        help="Folder with the four Fashion-MNIST files.")
    parser.add_argument("--work-dir", default=None,
                        help="Scratch dir [default: a new temp dir].")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--runner", default="local",
                        choices=["local", "beam"])
    parser.add_argument("--json", default=None, help="Also write JSON here.")
    args = parser.parse_args()
    if not args.manual_dir:
        parser.error("pass --manual-dir (or PIPELINE_TFDS_MANUAL_DIR)")
    work = args.work_dir or tempfile.mkdtemp(prefix="bench-")
    data_dir = os.path.join(work, "tfds")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")

    # Both sides read the same prepared TFDS data; preparing is not timed.
    subprocess.run([sys.executable, "-c", (
        "import tensorflow_datasets as tfds; b = tfds.builder("
        f"'fashion_mnist', data_dir={data_dir!r}); b.download_and_prepare("
        "download_config=tfds.download.DownloadConfig("
        f"manual_dir={args.manual_dir!r}))")], check=True, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    plain_wall, plain_mem, out = measured(
        [sys.executable, os.path.join(HERE, "plain_keras.py"),
         "--data-dir", data_dir, "--save-dir", os.path.join(work, "plain"),
         "--epochs", str(args.epochs)], env)
    plain_accuracy = json.loads(out.strip().splitlines()[-1])["accuracy"]

    output = os.path.join(work, "pipeline")
    pipeline_args = [sys.executable, "-m", "pipeline", "run", "--runner",
                     args.runner, "--output-dir", output, "--tfds-data-dir",
                     data_dir, "--epochs", str(args.epochs)]
    runs = {}
    for name in ("cold", "cached"):
        wall, mem, _ = measured(pipeline_args, env)
        with open(os.path.join(output, "last_run.json"),
                  encoding="utf-8") as f:
            runs[name] = {"wall": wall, "mem": mem, "summary": json.load(f)}

    cold = runs["cold"]["summary"]
    seconds = {n: c["seconds"] for n, c in cold["components"].items()}
    result = {
        "epochs": args.epochs,
        "runner": args.runner,
        "plain": {"wall_seconds": plain_wall, "accuracy": plain_accuracy,
                  "peak_rss_mib": plain_mem},
        "pipeline_cold": {
            "wall_seconds": runs["cold"]["wall"],
            "accuracy": cold["metrics"]["accuracy"],
            "peak_rss_mib": runs["cold"]["mem"],
            "component_seconds": seconds},
        "pipeline_cached": {
            "wall_seconds": runs["cached"]["wall"],
            "peak_rss_mib": runs["cached"]["mem"],
            "statuses": {n: c["status"] for n, c in
                         runs["cached"]["summary"]["components"].items()}},
        "ratios": {
            "cold_over_plain": runs["cold"]["wall"] / plain_wall,
            "cached_over_plain": runs["cached"]["wall"] / plain_wall},
        "accuracy_difference": cold["metrics"]["accuracy"] - plain_accuracy,
        "examples_per_second": {
            "example_gen": (TRAIN_EXAMPLES + TEST_EXAMPLES)
                           / seconds[nodes.EXAMPLE_GEN],
            "trainer": TRAIN_EXAMPLES * args.epochs / seconds[nodes.TRAINER]},
    }
    print(f"{'':24}{'wall s':>9}{'x plain':>9}{'accuracy':>10}"
          f"{'peak MiB':>10}")
    print(f"{'plain Keras script':24}{plain_wall:9.1f}{1:9.2f}"
          f"{plain_accuracy:10.4f}{plain_mem:10.0f}")
    print(f"{'pipeline, cold':24}{runs['cold']['wall']:9.1f}"
          f"{result['ratios']['cold_over_plain']:9.2f}"
          f"{cold['metrics']['accuracy']:10.4f}{runs['cold']['mem']:10.0f}")
    print(f"{'pipeline, cached':24}{runs['cached']['wall']:9.1f}"
          f"{result['ratios']['cached_over_plain']:9.2f}{'':>10}"
          f"{runs['cached']['mem']:10.0f}")
    print("component seconds (cold): " + ", ".join(
        f"{n} {s:.1f}" for n, s in seconds.items()))
    print(f"ExampleGen {result['examples_per_second']['example_gen']:.0f} "
          f"examples/s, Trainer "
          f"{result['examples_per_second']['trainer']:.0f} examples/s")
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
