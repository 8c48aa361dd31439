"""The Kubeflow package, run task by task here (tests/kfp_local.py) with ML
Metadata in a private MariaDB server (tests/mariadb.py): a cold run, a
cached run started by hand, and a scheduled tick on unchanged data
(`only_if_changed=true`). Each task is a fresh `python -m ...` process, as
it is a fresh pod on a cluster (minus pulling the image and scheduling the
pod). benchmarks/pipeline_vs_plain.py runs it; it also runs alone, from
the repository's root (it uses the test helpers in `tests/`):

  .venv/bin/python -m benchmarks.kubeflow_package --data-dir DIR [--json F]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from tests import kfp_local
from tests import mariadb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET = "mlmd-mysql"


def _compile(package, data_dir, work, metadata_url, epochs, seed, env):
    subprocess.run([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", package, "--image", "tfds-pipeline:bench",
        # The package's local paths lie on claims; the tasks here are
        # processes that see them at the same paths.
        "--volume", f"work:{work}", "--volume", f"datasets:{data_dir}",
        "--pipeline-root", os.path.join(work, "root"),
        "--metadata", metadata_url, "--metadata-secret",
        f"{SECRET}:password", "--tfds-data-dir", data_dir,
        "--epochs", str(epochs), "--seed", str(seed)],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def _timed(package, job, password, env, volumes, **parameters):
    started = time.monotonic()
    result = kfp_local.run(package, job, env, parameters=parameters,
                           secrets={SECRET: {"password": password}},
                           timeout=3600, volumes=volumes)
    wall = time.monotonic() - started
    if result.failed:
        name, process = result.tasks[-1]
        raise RuntimeError(f"task {name} of {job} failed:\n"
                           f"{process.stderr[-4000:]}")
    return {"wall_seconds": wall, "tasks_run": result.names,
            "tasks_skipped": result.skipped,
            "decision": result.outputs["decide"]}


def measure(data_dir, work, epochs, seed, env):
    """{cold, cached, tick}: wall seconds, the tasks that ran and the
    decide task's outputs, for one MariaDB store."""
    env = dict(env, PATH=os.path.dirname(sys.executable) + os.pathsep
               + env.get("PATH", ""))
    with mariadb.running(os.path.join(work, "mariadb")) as server:
        package = os.path.join(work, "pipeline.yaml")
        _compile(package, data_dir, work, server.url, epochs, seed, env)
        volumes = {"work": work, "datasets": data_dir}
        return {
            "cold": _timed(package, "job-cold", server.password, env,
                           volumes),
            "cached": _timed(package, "job-cached", server.password, env,
                             volumes),
            "tick": _timed(package, "job-tick", server.password, env,
                           volumes, only_if_changed=True),
        }


def report(measured) -> None:
    """Prints what `measure` returned."""
    for label, run in measured.items():
        skipped = (f", the rest skipped ({', '.join(run['tasks_skipped'])})"
                   if run["tasks_skipped"] else "")
        print(f"  {label:7} {run['wall_seconds']:7.1f} s  "
              f"{len(run['tasks_run'])} task(s) ran{skipped}; decide: "
              f"{run['decision']['reason']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True,
                        help="TFDS data dir with fashion_mnist prepared.")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="Also write JSON here.")
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix="bench-kfp-")
    measured = measure(os.path.abspath(args.data_dir), work, args.epochs,
                       args.seed, dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    print("Kubeflow package, task by task on MariaDB:")
    report(measured)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(measured, f, indent=2)


if __name__ == "__main__":
    main()
