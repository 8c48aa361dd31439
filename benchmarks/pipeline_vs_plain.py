"""The pipeline vs the best hand-written script for the same work, in one
call, on the same data.

Prepares Fashion-MNIST once (offline, from a TFDS manual dir), runs the
best script and the pipeline once each untimed (`--warm-up`), then, each in
a fresh process and for every seed: the best script for the pipeline's work
(benchmarks/best_keras.py: the same model, strategy, batch, optimizer,
epochs, evaluation and SavedModel, with its input cached and prefetched,
100 steps per call and XLA), the main reference; the tutorial script as a
user writes it (benchmarks/plain_keras.py: no strategy, verbose=0) and the
seed script (MirroredStrategy, verbose) as further rows; and the pipeline
cold (new output dir); for the first seed also the pipeline again (fully
cached) and a `schedule --once-if-changed` tick on the unchanged data.
Then the arithmetic limit: exactly the model's matrix products for every
training step, timed alone (benchmarks/matmul_limit.py), against the
pipeline Trainer's `fit`; then the pipeline cold on Fashion-MNIST ten
times larger, both splits (`--scale`, built from the real images by
benchmarks/scaled_fashion_mnist.py), with `--flink` that again with the
Beam steps on a Flink cluster on loopback, with `--trainer-workers N` the
pipeline cold with N Trainer workers; then the Kubeflow package task by
task on MariaDB (benchmarks/kubeflow_package.py: cold, cached, and a
scheduled tick on unchanged data) against the local cold run. Prints wall
seconds, ratios to the best script, test accuracy (means over seeds),
peak memory (RSS of the process tree), seconds per component, examples per
second, and each target with its measured value and whether it is met.

The work is checked, not assumed: example counts are what each run's
ExampleGen recorded in ML Metadata (its summary), every eval example must
have been evaluated, every component of a cold run must have executed and
every one of the fully cached run been cached; a run that did other work
than it reports is a NOT MET line of its own.

  .venv/bin/python benchmarks/pipeline_vs_plain.py \
      --manual-dir ../shared/datasets/fashion_mnist
"""

import argparse
import contextlib
import glob
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from components.trainer import record as training_record
from pipeline import nodes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


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


def _plain(data_dir, work, epochs, seed, env, mirrored=False):
    args = [sys.executable, os.path.join(HERE, "plain_keras.py"),
            "--data-dir", data_dir, "--save-dir",
            os.path.join(work, f"plain-{seed}-{int(mirrored)}"),
            "--epochs", str(epochs), "--seed", str(seed)]
    if mirrored:
        args += ["--strategy", "mirrored", "--verbose", "2"]
    wall, mem, out = measured(args, env)
    return {"wall_seconds": wall, "peak_rss_mib": mem,
            "accuracy": json.loads(out.strip().splitlines()[-1])["accuracy"]}


def _best(data_dir, work, epochs, seed, env):
    wall, mem, out = measured(
        [sys.executable, os.path.join(HERE, "best_keras.py"), "--data-dir",
         data_dir, "--save-dir", os.path.join(work, f"best-{seed}"),
         "--epochs", str(epochs), "--seed", str(seed)], env)
    said = json.loads(out.strip().splitlines()[-1])
    return {"wall_seconds": wall, "peak_rss_mib": mem,
            "accuracy": said["accuracy"], "fit_seconds": said["fit_seconds"]}


def _matmul_limit(examples, epochs, env):
    _, _, out = measured([sys.executable, os.path.join(HERE,
                                                       "matmul_limit.py"),
                          "--examples", str(examples), "--epochs",
                          str(epochs)], env)
    return json.loads(out.strip().splitlines()[-1])


def _fit_seconds(output):
    """The seconds the Trainer's `fit` took (its training record)."""
    [path] = glob.glob(training_record.path(os.path.join(
        output, "pipeline_root", nodes.TRAINER, "model_run", "*")))
    with open(path, encoding="utf-8") as f:
        return json.load(f)["seconds"]["fit"]


def _pipeline(command, output, data_dir, epochs, seed, runner, env,
              dataset=None, extra=()):
    args = [sys.executable, "-m", "pipeline", *command, "--output-dir",
            output, "--tfds-data-dir", data_dir, "--epochs", str(epochs),
            "--seed", str(seed), *extra]
    if dataset:
        # Same features as Fashion-MNIST, so the same data contract.
        name, config = dataset
        args += ["--dataset", name, "--dataset-config", config, "--schema",
                 os.path.join(REPO, "schemas", "fashion_mnist",
                              "schema.pbtxt")]
    if command == ["run"]:
        args += ["--runner", runner]
    wall, mem, out = measured(args, env)
    result = {"wall_seconds": wall, "peak_rss_mib": mem}
    if command == ["run"]:
        with open(os.path.join(output, "last_run.json"),
                  encoding="utf-8") as f:
            summary = json.load(f)
        result.update(accuracy=summary["metrics"].get("accuracy"),
                      evaluated=summary["metrics"].get("example_count"),
                      examples=summary["data"]["examples"],
                      component_seconds={
                          n: c["seconds"]
                          for n, c in summary["components"].items()},
                      statuses={n: c["status"]
                                for n, c in summary["components"].items()})
    else:
        result["said"] = out.strip().splitlines()[0] if out.strip() else ""
    return result


def _mean(values):
    return sum(values) / len(values)


def _ratio(numerator, denominator) -> float:
    """numerator / denominator; NaN (which meets no target) when either is
    missing or the denominator is 0."""
    if numerator is None or not denominator:
        return float("nan")
    return numerator / denominator


def _work_checks(label, run, status):
    """(what, measured, op, target) rows: every component has `status`;
    for a run that evaluated, every eval example was evaluated. What was
    not recorded measures NaN, which is NOT MET."""
    wrong = [n for n, s in run["statuses"].items()
             if s != status and n not in nodes.RESOLVERS]
    rows = [(f"{label}: components not {status}", len(wrong), "<=", 0)]
    if status == "executed":
        rows.append((f"{label}: eval examples evaluated / recorded",
                     _ratio(run.get("evaluated"),
                            run.get("examples", {}).get("eval")),
                     ">=", 1.0))
    return rows


@contextlib.contextmanager
def _flink_cluster(work_dir):
    """Yields the REST address of a Flink cluster on loopback, started
    (and afterwards stopped) by the tests' harness, which also builds the
    job server and installs Flink when missing."""
    sys.path.insert(0, REPO)
    from tests import flink  # pylint: disable=import-outside-toplevel
    os.makedirs(work_dir, exist_ok=True)
    flink.job_server_jar()
    with flink.running(work_dir, task_managers=2) as cluster:
        yield cluster.master


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manual-dir",
                        default=os.environ.get("PIPELINE_TFDS_MANUAL_DIR"),
                        help="Folder with the four Fashion-MNIST files.")
    parser.add_argument("--work-dir", default=None,
                        help="Scratch dir [default: a new temp dir].")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="0,1,2",
                        help="Comma-separated seeds; each runs the plain "
                             "script and the pipeline cold.")
    parser.add_argument("--runner", default="local",
                        choices=["local", "beam"])
    parser.add_argument("--scale", type=int, default=10, choices=[0, 2, 10],
                        help="Also run the pipeline cold on Fashion-MNIST "
                             "with this many times the examples in each "
                             "split "
                             "(benchmarks/scaled_fashion_mnist.py); 0 skips "
                             "it.")
    parser.add_argument("--kubeflow", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="Also run the Kubeflow package task by task "
                             "on a private MariaDB server (needs Debian's "
                             "mariadb-server).")
    parser.add_argument("--containers",
                        action=argparse.BooleanOptionalAction, default=None,
                        help="Run the Kubeflow package's tasks in containers"
                             " of the project's image [default: where "
                             "podman and buildah are installed].")
    parser.add_argument("--flink", action="store_true",
                        help="Also run the scaled pipeline with its Beam "
                             "steps on a Flink cluster on loopback (a "
                             "JobManager and two TaskManagers, started by "
                             "tests/flink.py; LOOPBACK, parallelism 2), "
                             "against the DirectRunner's scaled run.")
    parser.add_argument("--trainer-workers", type=int, default=0,
                        help="Also run the pipeline cold (first seed) with "
                             "this many Trainer workers, against one.")
    parser.add_argument("--warm-up", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="Run the best script and the pipeline once "
                             "each, untimed, before the timed runs.")
    parser.add_argument("--json", default=None, help="Also write JSON here.")
    args = parser.parse_args()
    if not args.manual_dir:
        parser.error("pass --manual-dir (or PIPELINE_TFDS_MANUAL_DIR)")
    seeds = [int(s) for s in args.seeds.split(",")]
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

    # The preparation leaves TensorFlow's and TFDS's files in the OS's page
    # cache for the scripts; a first run of the pipeline on a machine would
    # still read from disk what only it imports (Beam, TFX, TFMA, TFDV),
    # seconds more before its first node (docs/performance.md). One
    # untimed run of each side first, so that every timed run finds its
    # files where a second run on the same machine does.
    if args.warm_up:
        warm = os.path.join(work, "warm-up")
        _best(data_dir, warm, args.epochs, seeds[0], env)
        _pipeline(["run"], os.path.join(warm, "pipeline"), data_dir,
                  args.epochs, seeds[0], args.runner, env)

    best, plain, mirrored, cold, cached, tick = [], [], [], [], [], []
    for seed in seeds:
        best.append(_best(data_dir, work, args.epochs, seed, env))
        plain.append(_plain(data_dir, work, args.epochs, seed, env))
        mirrored.append(_plain(data_dir, work, args.epochs, seed, env,
                               mirrored=True))
        output = os.path.join(work, f"pipeline-{seed}")
        cold.append(_pipeline(["run"], output, data_dir, args.epochs, seed,
                              args.runner, env))
        cold[-1]["fit_seconds"] = _fit_seconds(output)
        if seed == seeds[0]:
            cached.append(_pipeline(["run"], output, data_dir, args.epochs,
                                    seed, args.runner, env))
            tick.append(_pipeline(
                ["schedule", "--target", "local", "--once-if-changed"],
                output, data_dir, args.epochs, seed, args.runner, env))

    limit = _matmul_limit(cold[0]["examples"]["train"], args.epochs, env)

    scaled = None
    if args.scale:
        # Building the larger dataset is not timed.
        subprocess.run([sys.executable, os.path.join(HERE,
                                                     "scaled_fashion_mnist.py"),
                        "--data-dir", data_dir, "--factor", str(args.scale)],
                       check=True, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        scaled = _pipeline(["run"], os.path.join(work, f"scaled-x{args.scale}"),
                           data_dir, args.epochs, seeds[0], args.runner, env,
                           dataset=("fashion_mnist_scaled",
                                    f"x{args.scale}"))

    flink = None
    if args.flink and scaled:
        with _flink_cluster(os.path.join(work, "flink")) as master:
            flink = _pipeline(
                ["run"], os.path.join(work, f"flink-x{args.scale}"),
                data_dir, args.epochs, seeds[0], args.runner, env,
                dataset=("fashion_mnist_scaled", f"x{args.scale}"),
                extra=("--beam-runner", "flink", "--flink-master", master,
                       "--flink-parallelism", "2"))
    workers = None
    if args.trainer_workers > 1:
        workers = _pipeline(["run"], os.path.join(
            work, f"workers-{args.trainer_workers}"), data_dir, args.epochs,
            seeds[0], args.runner, env,
            extra=("--trainer-workers", str(args.trainer_workers)))

    kubeflow = kubeflow_report = None
    if args.kubeflow:
        # As a module from the repository's root, for the test helpers.
        kubeflow_json = os.path.join(work, "kubeflow.json")
        measured_kubeflow = subprocess.run([
            sys.executable, "-m", "benchmarks.kubeflow_package",
            "--data-dir", data_dir, "--work-dir",
            os.path.join(work, "kubeflow"), "--epochs", str(args.epochs),
            "--seed", str(seeds[0]), "--json", kubeflow_json,
            *({True: ["--containers"], False: ["--no-containers"]}.get(
                args.containers, []))],
            cwd=REPO, env=env, check=True, capture_output=True, text=True)
        kubeflow_report = measured_kubeflow.stdout.rstrip()
        with open(kubeflow_json, encoding="utf-8") as f:
            kubeflow = json.load(f)

    best_wall = _mean([r["wall_seconds"] for r in best])
    best_accuracy = _mean([r["accuracy"] for r in best])
    plain_wall = _mean([r["wall_seconds"] for r in plain])
    plain_accuracy = _mean([r["accuracy"] for r in plain])
    cold_wall = _mean([r["wall_seconds"] for r in cold])
    cold_accuracy = _mean([r["accuracy"] for r in cold])
    cold_fit = _mean([r["fit_seconds"] for r in cold])
    seconds = cold[0]["component_seconds"]
    counts = cold[0]["examples"]
    targets = [
        ("cold pipeline / best script wall", cold_wall / best_wall, "<=",
         1.3),
        ("cold accuracy - best script accuracy",
         cold_accuracy - best_accuracy, ">=", -0.005),
        ("fully cached re-run / best script wall",
         cached[0]["wall_seconds"] / best_wall, "<=", 0.15),
        ("Trainer fit / the model's matmuls alone",
         cold_fit / limit["seconds"], "<=", 5.0),
        ("cold pipeline / tutorial script wall", cold_wall / plain_wall,
         "<=", 1.0),
        ("cold accuracy - tutorial script accuracy",
         cold_accuracy - plain_accuracy, ">=", -0.005),
        ("no-new-data tick / tutorial script wall",
         tick[0]["wall_seconds"] / plain_wall, "<=", 0.05),
    ]
    for seed, run in zip(seeds, cold):
        targets += _work_checks(f"cold seed {seed}", run, "executed")
    targets += _work_checks("fully cached", cached[0], "cached")
    if scaled:
        targets += _work_checks(f"x{args.scale} cold", scaled, "executed")
        targets += [
            (f"x{args.scale} examples / x1 examples, each split",
             min([_ratio(scaled["examples"].get(split), counts[split])
                  for split in counts] or [float("nan")]), ">=",
             args.scale),
            (f"x{args.scale} cold / x1 cold wall",
             scaled["wall_seconds"] / cold[0]["wall_seconds"], "<=",
             1.05 * args.scale),
            (f"x{args.scale} / x1 peak memory",
             scaled["peak_rss_mib"] / cold[0]["peak_rss_mib"], "<=", 2.0),
        ]
    if flink:
        targets += _work_checks(f"x{args.scale} on Flink", flink, "executed")
        targets.append((f"x{args.scale} on Flink: examples / DirectRunner's",
                        min(_ratio(flink["examples"].get(split), count)
                            for split, count in scaled["examples"].items()),
                        ">=", 1.0))
    if workers:
        targets += _work_checks(f"{args.trainer_workers} Trainer workers",
                                workers, "executed")
    if kubeflow:
        targets += [
            ("Kubeflow package cold / local cold wall (seed "
             f"{seeds[0]})", kubeflow["cold"]["wall_seconds"]
             / cold[0]["wall_seconds"], "<=", 1.5),
            ("Kubeflow unchanged tick: tasks run",
             len(kubeflow["tick"]["tasks_run"]), "<=", 1),
        ]
        # The task that needs no TensorFlow, from the engine's call to its
        # work (a container's start included, where tasks run in them).
        decide = kubeflow["cold"]["task_start_to_work_seconds"].get("decide")
        targets.append(("Kubeflow decide task (no TensorFlow): start s",
                        float("nan") if decide is None else decide, "<=",
                        1.0))
    result = {
        "epochs": args.epochs, "runner": args.runner, "seeds": seeds,
        "warm_up": args.warm_up,
        "best": best, "plain": plain, "plain_mirrored": mirrored,
        "matmul_limit": limit, "pipeline_cold": cold,
        "pipeline_cached": cached[0], "once_if_changed_tick": tick[0],
        "pipeline_scaled": scaled, "pipeline_scaled_flink": flink,
        "pipeline_trainer_workers": workers, "kubeflow_package": kubeflow,
        "targets": [{"what": w, "measured": v, "target": f"{op} {t}",
                     "met": v <= t if op == "<=" else v >= t}
                    for w, v, op, t in targets],
        "examples": counts,
        "examples_per_second": {
            "example_gen": sum(counts.values()) / seconds[nodes.EXAMPLE_GEN],
            "trainer": counts["train"] * args.epochs
                       / seconds[nodes.TRAINER]},
    }
    print(f"Means over seeds {seeds} (cached re-run and tick: seed "
          f"{seeds[0]}), {args.epochs} epochs, {args.runner} runner"
          + (", after an untimed run of the best script and the pipeline."
             if args.warm_up else ", no warm-up run."))
    print(f"{'':34}{'wall s':>9}{'x best':>9}{'accuracy':>10}"
          f"{'peak MiB':>10}")
    rows = [("best script", best), ("tutorial script", plain),
            ("seed script (Mirrored, verbose)", mirrored),
            ("pipeline, cold", cold), ("pipeline, fully cached", cached),
            ("--once-if-changed, no new data", tick)]
    for label, runs in rows:
        wall = _mean([r["wall_seconds"] for r in runs])
        accuracies = [r.get("accuracy") for r in runs]
        accuracy = (f"{_mean(accuracies):10.4f}" if None not in accuracies
                    and label != "pipeline, fully cached" else f"{'':>10}")
        print(f"{label:34}{wall:9.1f}{wall / best_wall:9.2f}{accuracy}"
              f"{max(r['peak_rss_mib'] for r in runs):10.0f}")
    print(f"fit: best script {_mean([r['fit_seconds'] for r in best]):.1f} "
          f"s, pipeline Trainer {cold_fit:.1f} s; the model's matmuls alone "
          f"{limit['seconds']:.1f} s ({limit['gflop']:.0f} GFLOP in "
          f"{limit['steps']} steps of batch 64, "
          f"{limit['gflop_per_second']:.0f} GFLOP/s)")
    print("examples (as ExampleGen recorded them): " + ", ".join(
        f"{split} {count}" for split, count in counts.items()))
    print("component seconds (cold, seed %d): " % seeds[0] + ", ".join(
        f"{n} {s:.1f}" for n, s in seconds.items()))
    print(f"ExampleGen {result['examples_per_second']['example_gen']:.0f} "
          f"examples/s, Trainer "
          f"{result['examples_per_second']['trainer']:.0f} examples/s")
    if scaled:
        scaled_seconds = scaled["component_seconds"]
        scaled_counts = scaled["examples"]
        print(f"x{args.scale} (seed {seeds[0]}): {scaled['wall_seconds']:.1f}"
              f" s, peak {scaled['peak_rss_mib']:.0f} MiB, accuracy "
              f"{scaled['accuracy']:.4f}, examples " + ", ".join(
                  f"{split} {count}" for split, count in
                  scaled_counts.items()))
        print(f"x{args.scale} / x1 seconds per component (each grew by "
              "the examples it reads): " + ", ".join(
                  f"{n} {scaled_seconds[n] / seconds[n]:.1f}x"
                  for n in scaled_seconds if seconds.get(n, 0) >= 0.5))
        print(f"x{args.scale} ExampleGen "
              f"{sum(scaled_counts.values()) / scaled_seconds[nodes.EXAMPLE_GEN]:.0f}"
              f" examples/s, Trainer "
              f"{scaled_counts['train'] * args.epochs / scaled_seconds[nodes.TRAINER]:.0f}"
              " examples/s")
    if flink:
        beam_steps = [n for n in (nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN,
                                  nodes.TRANSFORM, nodes.EVALUATOR)
                      if n in flink["component_seconds"]]
        print(f"x{args.scale}, Beam steps on Flink (LOOPBACK, parallelism "
              f"2) / on the DirectRunner: wall {flink['wall_seconds']:.1f} s"
              f" / {scaled['wall_seconds']:.1f} s = "
              f"{flink['wall_seconds'] / scaled['wall_seconds']:.2f}x; "
              + ", ".join(f"{n} {flink['component_seconds'][n]:.1f} s / "
                          f"{scaled['component_seconds'][n]:.1f} s"
                          for n in beam_steps)
              + f"; accuracy {flink['accuracy']:.4f} / "
              f"{scaled['accuracy']:.4f}")
    if workers:
        print(f"{args.trainer_workers} Trainer workers / 1 (seed "
              f"{seeds[0]}): Trainer "
              f"{workers['component_seconds'][nodes.TRAINER]:.1f} s / "
              f"{seconds[nodes.TRAINER]:.1f} s, wall "
              f"{workers['wall_seconds']:.1f} s / "
              f"{cold[0]['wall_seconds']:.1f} s, accuracy "
              f"{workers['accuracy']:.4f} / {cold[0]['accuracy']:.4f}, peak "
              f"{workers['peak_rss_mib']:.0f} / "
              f"{cold[0]['peak_rss_mib']:.0f} MiB")
    if kubeflow:
        print(f"Kubeflow package, seed {seeds[0]}: cold "
              f"{kubeflow['cold']['wall_seconds']:.1f} s against the local "
              f"cold {cold[0]['wall_seconds']:.1f} s; tick / tutorial wall "
              f"{kubeflow['tick']['wall_seconds'] / plain_wall:.3f}.\n"
              + kubeflow_report)
    print("Targets:")
    for target in result["targets"]:
        print(f"  {target['what']:50} {target['measured']:8.3f}  "
              f"target {target['target']:8}  "
              f"{'met' if target['met'] else 'NOT MET'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
