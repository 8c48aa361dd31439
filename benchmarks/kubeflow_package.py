"""The Kubeflow package, run task by task here (tests/kfp_local.py) with ML
Metadata in a private MariaDB server (tests/mariadb.py): a cold run, a
cached run started by hand, and a scheduled tick on unchanged data
(`only_if_changed=true`). Where podman and buildah are installed each task
runs in a container of the project's image, as in a pod (the image is
built first, not timed; `--no-containers` runs them as processes); the
pipeline root and the TFDS data lie on a folder mounted into every
container at its own path, as a claim would be. Each task is a fresh
process, as it is a fresh pod on a cluster (minus pulling the image and
scheduling the pod). benchmarks/pipeline_vs_plain.py runs it; it also runs
alone, from the repository's root (it uses the test helpers in `tests/`):

  .venv/bin/python -m benchmarks.kubeflow_package --data-dir DIR [--json F]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from pipeline import startup
from tests import containers as container_images
from tests import kfp_local
from tests import mariadb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET = "mlmd-mysql"


def _compile(package, data_dir, work, metadata_url, epochs, seed, env,
             image, volumes):
    subprocess.run([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", package, "--image", image,
        # The package's local paths lie on claims; every task (a process,
        # or a container that mounts them) sees them at the same paths.
        *(flag for claim, path in volumes.items()
          for flag in ("--volume", f"{claim}:{path}")),
        "--pipeline-root", os.path.join(work, "root"),
        "--metadata", metadata_url, "--metadata-secret",
        f"{SECRET}:password", "--tfds-data-dir", data_dir,
        "--epochs", str(epochs), "--seed", str(seed)],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def _timed(package, job, password, env, volumes, engine, **parameters):
    started = time.monotonic()
    result = kfp_local.run(package, job, env, parameters=parameters,
                           secrets={SECRET: {"password": password}},
                           timeout=3600, volumes=volumes, containers=engine)
    wall = time.monotonic() - started
    if result.failed:
        name, process = result.failure
        raise RuntimeError(f"task {name} of {job} failed:\n"
                           f"{process.stderr[-4000:]}")
    return {"wall_seconds": wall, "tasks_run": result.names,
            "tasks_skipped": result.skipped,
            "task_seconds": result.seconds,
            **_startup(result),
            "decision": result.outputs["decide"]}


def _startup(result):
    """Each task's start-up as its first start-up line says it
    (pipeline/startup.py): seconds from its process's start to its work,
    and from the call that started the container (or process) to its work
    (the engine's start, then the task's own); None where it said
    nothing."""
    said = {name: startup.read_startup(process.stderr)
            for name, process in result.tasks}
    return {
        "task_startup_seconds": {
            name: s[0] if s else None for name, s in said.items()},
        "task_start_to_work_seconds": {
            name: s[1] + s[0] - result.started[name] if s else None
            for name, s in said.items()}}


def measure(data_dir, work, epochs, seed, env, in_containers=None):
    """{cold, cached, tick}: wall seconds, the tasks that ran, their
    seconds and start-up seconds, and the decide task's outputs, for one
    MariaDB store; plus `engine` and, in containers, the image's build."""
    env = dict(env, PATH=os.path.dirname(sys.executable) + os.pathsep
               + env.get("PATH", ""))
    if in_containers is None:
        in_containers = container_images.installed()
    engine, image, built = None, "tfds-pipeline:bench", None
    if in_containers:
        built = container_images.build()
        image = built.tag
        engine = kfp_local.Containers(env=container_images.engine_env())
        claim = container_images.claim(data_dir,
                                       os.path.join(work, "claim"))
        data_dir, root = os.path.join(claim, "tfds"), claim
        volumes = {"work": claim}
    else:
        root = work
        volumes = {"work": work, "datasets": data_dir}
    with mariadb.running(os.path.join(work, "mariadb")) as server:
        package = os.path.join(work, "pipeline.yaml")
        _compile(package, data_dir, root, server.url, epochs, seed, env,
                 image, volumes)
        task_env = {} if in_containers else env
        measured = {
            "cold": _timed(package, "job-cold", server.password, task_env,
                           volumes, engine),
            "cached": _timed(package, "job-cached", server.password,
                             task_env, volumes, engine),
            "tick": _timed(package, "job-tick", server.password, task_env,
                           volumes, engine, only_if_changed=True),
        }
    measured["engine"] = "containers" if in_containers else "processes"
    if built:
        measured["image"] = {"tag": built.tag,
                             "build_seconds": built.build_seconds,
                             "size_bytes": built.size_bytes}
    return measured


def report(measured) -> None:
    """Prints what `measure` returned."""
    built = measured.get("image")
    print(f"  tasks in {measured['engine']}" + (
        f" of {built['tag']} (built in {built['build_seconds']:.0f} s, "
        f"{built['size_bytes'] / 1e9:.2f} GB)" if built else ""))
    for label in ("cold", "cached", "tick"):
        run = measured[label]
        skipped = (f", the rest skipped ({', '.join(run['tasks_skipped'])})"
                   if run["tasks_skipped"] else "")
        print(f"  {label:7} {run['wall_seconds']:7.1f} s  "
              f"{len(run['tasks_run'])} task(s) ran{skipped}; decide: "
              f"{run['decision']['reason']}")
        print("          task s (start to work s, of it the process's "
              "own s): " + ", ".join(
                  f"{name} {run['task_seconds'][name]:.1f} "
                  f"({_shown(run['task_start_to_work_seconds'][name])}, "
                  f"{_shown(run['task_startup_seconds'][name])})"
                  for name in run["tasks_run"]))


def _shown(seconds):
    return "-" if seconds is None else f"{seconds:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True,
                        help="TFDS data dir with fashion_mnist prepared.")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--containers", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="Run each task in a container of the image "
                             "[default: where podman and buildah are "
                             "installed].")
    parser.add_argument("--json", default=None, help="Also write JSON here.")
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix="bench-kfp-")
    measured = measure(os.path.abspath(args.data_dir), work, args.epochs,
                       args.seed, dict(os.environ, TF_USE_LEGACY_KERAS="1"),
                       args.containers)
    print("Kubeflow package, task by task on MariaDB:")
    report(measured)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(measured, f, indent=2)


if __name__ == "__main__":
    main()
