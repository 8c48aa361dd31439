"""Runs a compiled KFP pipeline package on this machine, task by task.

This is what the KFP backend does with the package, minus Kubernetes: it
orders each DAG's tasks by their `dependentTasks`, resolves each task's
input parameters (pipeline parameters, the job uuid, another task's output
parameter), evaluates a sub-DAG's `triggerPolicy.condition` (what `dsl.If`
compiles to) and runs or skips the sub-DAG, fills the
`{{$.inputs.parameters[...]}}` and `{{$.outputs.parameters[...]
.output_file}}` placeholders of the task's container args, sets the
environment the kfp-kubernetes platform spec asks for (secrets as env vars,
from a dict standing in for the cluster's secrets), runs the container's
exact command and args, and reads the output parameters it wrote. Values
are rendered into a command line as the backend's Go code does
(`true`/`false`; a number with `strconv.FormatFloat(v, 'f', -1, 64)`, so
`1.0` is `1`).

Where the command runs:

- With `Containers`, as a pod would: in a container of the task's image
  (podman, host networking), with only the image's environment and the
  task's own (secrets as env), the task's CPU and memory limits, every
  PersistentVolumeClaim of the platform spec bind-mounted from the host
  folder that stands in for it, and the output parameter files on a folder
  mounted at the same path.
- Without, as a subprocess in this environment, where the package is
  installed as it is in the image; a claim's host folder must then be its
  mount path.

A task that fails runs again as its `retryPolicy` says (count, backoff and
factor), as the backend's Argo workflow would; `Hooks` lets a test act
between attempts (bring a store back) and scale the backoff.

Any placeholder, input kind, condition or platform setting this runner does
not know fails the run, so a test cannot pass on a package it did not fully
read.
"""

import concurrent.futures
import dataclasses
import os
import re
import subprocess
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import yaml

INPUT = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
OUTPUT_FILE = re.compile(
    r"\{\{\$\.outputs\.parameters\['([^']+)'\]\.output_file\}\}")
# The conditions `dsl.If(task.output == 'text')` (or `!=`) compiles to.
CONDITION = re.compile(
    r"^inputs\.parameter_values\['([^']+)'\] (==|!=) '([^']*)'$")
JOB_UUID = "{{$.pipeline_job_uuid}}"
# What a task may say; anything else (loops, artifact inputs, exit
# handlers) is something this runner would silently not do.
_TASK_KEYS = {"taskInfo", "componentRef", "dependentTasks", "inputs",
              "cachingOptions", "retryPolicy", "triggerPolicy"}
# kfp-kubernetes settings: the first two are carried out here; the others
# only place the pod on a node, which has no meaning on one machine.
_PLATFORM_KEYS = {"secretAsEnv", "pvcMount", "tolerations", "nodeSelector"}


@dataclasses.dataclass(frozen=True)
class Containers:
    """Run each task in a container of its image, as a pod.

    Attributes:
      engine: the container engine's command (podman's CLI).
      env: the engine's own environment (e.g. CONTAINERS_CONF); the task's
        environment is passed by name only, so no secret value appears on a
        command line.
    """
    engine: str = "podman"
    env: Dict[str, str] = dataclasses.field(default_factory=dict)


class PackageError(AssertionError):
    """The package uses something this runner does not understand."""


@dataclasses.dataclass
class Result:
    """What a run did.

    Attributes:
      tasks: (task name, finished process) of every task that ran, in
        order; the last one failed if the run failed.
      outputs: task name -> its output parameters.
      skipped: the names of the sub-DAGs whose condition was false, and of
        the tasks in them.
      started: task name -> when its container (or process) was started,
        seconds since the epoch.
      seconds: task name -> its wall time, start to exit (of its last
        attempt).
      retried: (task name, finished process) of every failed attempt that
        the task's retry policy tried again.
    """
    tasks: List[Tuple[str, subprocess.CompletedProcess]] = \
        dataclasses.field(default_factory=list)
    outputs: Dict[str, Dict[str, str]] = dataclasses.field(
        default_factory=dict)
    skipped: List[str] = dataclasses.field(default_factory=list)
    started: Dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: Dict[str, float] = dataclasses.field(default_factory=dict)
    retried: List[Tuple[str, subprocess.CompletedProcess]] = \
        dataclasses.field(default_factory=list)

    # Task names in the order the runner started them.
    launched: List[str] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def failure(self) -> Optional[Tuple[str, subprocess.CompletedProcess]]:
        """(name, process) of the first task that failed, or None."""
        return next(((name, completed) for name, completed in self.tasks
                     if completed.returncode != 0), None)

    @property
    def names(self) -> List[str]:
        """The names of the tasks that ran, in the order they started."""
        ran = {name for name, _ in self.tasks}
        return [name for name in self.launched if name in ran]


def load(path: str):
    """(pipeline spec, platform spec or {}) from a KFP YAML package."""
    with open(path, encoding="utf-8") as f:
        documents = list(yaml.safe_load_all(f))
    platform = documents[1] if len(documents) > 1 else {}
    return documents[0], platform


def task_order(tasks: dict) -> List[str]:
    """A DAG's task keys in an order that respects `dependentTasks`."""
    order, done = [], set()
    while len(order) < len(tasks):
        ready = [key for key, task in sorted(tasks.items())
                 if key not in done
                 and set(task.get("dependentTasks", [])) <= done]
        if not ready:
            raise PackageError(f"cycle among {sorted(set(tasks) - done)}")
        order.extend(ready)
        done.update(ready)
    return order


def _typed(value, kind: str):
    if kind == "NUMBER_INTEGER":
        return int(value)
    if kind == "NUMBER_DOUBLE":
        return float(value)
    if kind == "BOOLEAN":
        if isinstance(value, str):
            return {"true": True, "false": False}[value.lower()]
        return bool(value)
    if kind == "STRING":
        return str(value)
    raise PackageError(f"parameter type {kind} is not supported here")


def render(value) -> str:
    """A parameter value as the KFP backend writes it into a command."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def _pipeline_parameters(spec: dict, overrides: dict) -> dict:
    definitions = spec["root"].get("inputDefinitions", {}).get(
        "parameters", {})
    unknown = set(overrides) - set(definitions)
    if unknown:
        raise PackageError(f"no pipeline parameters {sorted(unknown)}")
    return {name: _typed(overrides.get(name, definition.get("defaultValue")),
                         definition["parameterType"])
            for name, definition in definitions.items()}


def _task_inputs(task: dict, parameters: dict, outputs: dict,
                 job_uuid: str) -> dict:
    if set(task.get("inputs", {})) - {"parameters"}:
        raise PackageError(f"task inputs {sorted(task['inputs'])} are not "
                           "supported here")
    inputs = {}
    for name, source in task.get("inputs", {}).get("parameters", {}).items():
        runtime = source.get("runtimeValue", {})
        if "componentInputParameter" in source:
            inputs[name] = parameters[source["componentInputParameter"]]
        elif "taskOutputParameter" in source:
            producer = source["taskOutputParameter"]
            inputs[name] = outputs[producer["producerTask"]][
                producer["outputParameterKey"]]
        elif runtime.get("constant") == JOB_UUID:
            inputs[name] = job_uuid
        elif "constant" in runtime:
            inputs[name] = runtime["constant"]
        else:
            raise PackageError(f"input {name!r}: unknown source {source}")
    return inputs


def condition_holds(condition: str, inputs: dict) -> bool:
    """A `triggerPolicy.condition` of the forms `dsl.If` compiles to."""
    match = CONDITION.match(condition)
    if not match:
        raise PackageError(f"condition {condition!r} is not supported here")
    name, operator, text = match.groups()
    equal = render(inputs[name]) == text
    return equal if operator == "==" else not equal


def _fill(arg: str, inputs: dict, output_files: dict) -> str:
    def value(match):
        name = match.group(1)
        if name not in inputs:
            raise PackageError(f"placeholder for unknown input {name!r}")
        return render(inputs[name])

    def output_file(match):
        name = match.group(1)
        if name not in output_files:
            raise PackageError(f"placeholder for unknown output {name!r}")
        return output_files[name]

    filled = OUTPUT_FILE.sub(output_file, INPUT.sub(value, arg))
    if "{{$" in filled:
        raise PackageError(f"unknown placeholder in {arg[:200]!r}")
    return filled


def _dag_task_names(spec: dict, component: dict) -> List[str]:
    """Every task name inside a DAG component, nested DAGs included."""
    names = []
    for task in component["dag"]["tasks"].values():
        names.append(task["taskInfo"]["name"])
        child = spec["components"][task["componentRef"]["name"]]
        if "dag" in child:
            names.extend(_dag_task_names(spec, child))
    return names


class _Runner:
    """One run of a package: walks its DAGs and runs their containers."""

    def __init__(self, path: str, job_uuid: str, env: dict,
                 secrets: Optional[Dict[str, dict]], timeout: int,
                 volumes: Optional[Dict[str, str]],
                 containers: Optional[Containers], hooks: "Hooks"):
        self.spec, platform = load(path)
        self.platform_executors = (
            platform.get("platforms", {}).get("kubernetes", {})
            .get("deploymentSpec", {}).get("executors", {}))
        self.job_uuid = job_uuid
        self.env = env
        self.secrets = secrets or {}
        self.timeout = timeout
        self.volumes = volumes or {}
        self.containers = containers
        self.on_start = hooks.on_start
        self.on_end = hooks.on_end
        self.before_retry = hooks.before_retry
        self.backoff_scale = hooks.backoff_scale
        self.result = Result()

    def run_dag(self, component: dict, parameters: dict) -> bool:
        """Runs a DAG's tasks, each once those it depends on are done, the
        ones ready at the same time side by side, as Argo runs them; False
        once a task failed (those beside it finish first, as Argo's
        failFast lets them)."""
        tasks = component["dag"]["tasks"]
        outputs: Dict[str, dict] = {}
        done: set = set()
        order = task_order(tasks)  # refuses a cycle before any task runs
        while len(done) < len(tasks):
            ready = [key for key in order if key not in done
                     and set(tasks[key].get("dependentTasks", [])) <= done]
            for key in ready:
                self.result.launched.append(tasks[key]["taskInfo"]["name"])
            if len(ready) == 1:
                succeeded = [self._run_task(tasks[ready[0]], ready[0],
                                            parameters, outputs)]
            else:
                with concurrent.futures.ThreadPoolExecutor(
                        max_workers=len(ready)) as pool:
                    succeeded = list(pool.map(
                        lambda key: self._run_task(tasks[key], key,
                                                   parameters, outputs),
                        ready))
            if not all(succeeded):
                return False
            done.update(ready)
        return True

    def _run_task(self, task: dict, key: str, parameters: dict,
                  outputs: Dict[str, dict]) -> bool:
        """Runs (or skips, as its condition says) one task of a DAG, its
        output parameters into `outputs[key]`; False if it failed."""
        name = task["taskInfo"]["name"]
        child = self.spec["components"][task["componentRef"]["name"]]
        inputs = _task_inputs(task, parameters, outputs, self.job_uuid)
        unknown = set(task) - _TASK_KEYS
        policy = task.get("triggerPolicy", {})
        if unknown or set(policy) - {"condition"}:
            raise PackageError(f"task {name!r} uses "
                               f"{sorted(unknown | set(policy))}, "
                               "which this runner does not run")
        condition = policy.get("condition")
        if condition and "dag" not in child:
            raise PackageError(f"condition on container task {name!r}")
        if condition and not condition_holds(condition, inputs):
            self.result.skipped.append(name)
            if "dag" in child:
                self.result.skipped.extend(
                    _dag_task_names(self.spec, child))
            return True
        if "dag" in child:
            return self.run_dag(child, inputs)
        outputs[key] = self._with_retries(task, name, child, inputs)
        return outputs[key] is not None

    def _with_retries(self, task: dict, name: str, component: dict,
                      inputs: dict) -> Optional[dict]:
        """Runs a task again as its retry policy says, after a backoff
        (scaled by `backoff_scale`) and the `before_retry` hook."""
        policy = task.get("retryPolicy", {})
        backoff = float(policy.get("backoffDuration", "0s").rstrip("s"))
        for attempt in range(int(policy.get("maxRetryCount", 0)) + 1):
            if attempt:
                # This task's failed attempt (others may have ended since).
                [last] = [i for i, (n, _) in enumerate(self.result.tasks)
                          if n == name][-1:]
                self.result.retried.append(self.result.tasks.pop(last))
                if self.before_retry:
                    self.before_retry(name, attempt)
                time.sleep(backoff * self.backoff_scale)
                backoff *= float(policy.get("backoffFactor", 1.0))
            values = self.run_container(name, component, inputs)
            if values is not None:
                return values
        return None

    def run_container(self, name: str, component: dict,
                      inputs: dict) -> Optional[dict]:
        """Runs one task; its output parameters, or None if it failed."""
        label = component["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label][
            "container"]
        declared = component.get("outputDefinitions", {}).get(
            "parameters", {})
        with tempfile.TemporaryDirectory() as outputs_dir:
            # The image's user, not root, writes the outputs.
            os.chmod(outputs_dir, 0o777)
            # KFP gives each output its own path; the folder may not exist.
            output_files = {out: os.path.join(outputs_dir, out, "value")
                            for out in declared}
            argv = [_fill(a, inputs, output_files)
                    for a in container["command"] + container.get("args",
                                                                  [])]
            task_env = self._task_env(label, container)
            mounts = self._mounts(label) + [(outputs_dir, outputs_dir)]
            self.result.started[name] = time.time()
            if self.on_start:
                self.on_start(name)
            if self.containers:
                completed = self._run_in_container(name, container, argv,
                                                   task_env, mounts)
            else:
                completed = subprocess.run(
                    argv, env=dict(self.env, **task_env),
                    capture_output=True, text=True, timeout=self.timeout,
                    check=False)
            self.result.seconds[name] = (time.time()
                                         - self.result.started[name])
            self.result.tasks.append((name, completed))
            if self.on_end:
                self.on_end(name, completed.returncode)
            if completed.returncode != 0:
                return None
            values = {}
            for out, path in output_files.items():
                if not os.path.isfile(path):
                    raise PackageError(f"task {name!r} wrote no output "
                                       f"{out!r}")
                with open(path, encoding="utf-8") as f:
                    values[out] = _typed(f.read(),
                                         declared[out]["parameterType"])
        self.result.outputs[name] = values
        return values

    def _run_in_container(self, name: str, container: dict, argv: List[str],
                          task_env: Dict[str, str],
                          mounts: List[Tuple[str, str]]
                          ) -> subprocess.CompletedProcess:
        """`argv` in a container of the task's image, as its pod."""
        engine = self.containers.engine
        container_name = re.sub(r"[^a-z0-9-]", "-",
                                f"kfp-{self.job_uuid}-{name}".lower())
        command = [engine, "run", "--rm", "--network", "host",
                   "--name", container_name]
        resources = container.get("resources", {})
        if "resourceCpuLimit" in resources:
            command += ["--cpus", _cpus(resources["resourceCpuLimit"])]
        if "resourceMemoryLimit" in resources:
            command += ["--memory", _bytes(resources["resourceMemoryLimit"])]
        for host_path, mount_path in mounts:
            command += ["-v", f"{host_path}:{mount_path}"]
        for variable in sorted(task_env):
            command += ["-e", variable]  # The value comes from our env.
        # As on Kubernetes, the task's command replaces the image's
        # entrypoint (Beam's boot, in this project's image).
        command += ["--entrypoint", argv[0], container["image"], *argv[1:]]
        try:
            return subprocess.run(
                command, env=dict(self.containers.env, **task_env),
                capture_output=True, text=True, timeout=self.timeout,
                check=False)
        except subprocess.TimeoutExpired:
            subprocess.run([engine, "rm", "-f", container_name],
                           env=self.containers.env, capture_output=True,
                           check=False)
            raise

    def _mounts(self, label: str) -> List[Tuple[str, str]]:
        """(host folder, mount path) of every claim the task mounts."""
        executor = self.platform_executors.get(label, {})
        unknown = set(executor) - _PLATFORM_KEYS
        if unknown:
            raise PackageError(f"platform settings {sorted(unknown)} are not "
                               "supported here")
        mounts = []
        for entry in executor.get("pvcMount", []):
            claim = entry.get("constant") or entry["pvcNameParameter"][
                "runtimeValue"]["constant"]
            if claim not in self.volumes:
                raise PackageError(f"no host folder for the claim {claim!r}")
            host_path = self.volumes[claim]
            if not self.containers and host_path != entry["mountPath"]:
                raise PackageError(
                    f"claim {claim!r} mounts at {entry['mountPath']}, which a "
                    f"subprocess cannot see as {host_path}")
            mounts.append((host_path, entry["mountPath"]))
        return mounts

    def _task_env(self, label: str, container: dict) -> dict:
        env = {}
        for entry in self.platform_executors.get(label, {}).get(
                "secretAsEnv", []):
            secret = self.secrets[entry["secretName"]]
            for pair in entry["keyToEnv"]:
                env[pair["envVar"]] = secret[pair["secretKey"]]
        for entry in container.get("env", []):
            env[entry["name"]] = entry["value"]
        return env


def _cpus(quantity: str) -> str:
    """A Kubernetes CPU quantity (2, 0.5, 500m) as podman's --cpus."""
    if quantity.endswith("m"):
        return str(int(quantity[:-1]) / 1000)
    return quantity


def _bytes(quantity: str) -> str:
    """A Kubernetes memory quantity (8G, 512Mi) in bytes, for podman."""
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    number, unit = re.fullmatch(r"([0-9]+)([A-Za-z]*)", quantity).groups()
    return str(int(number) * units[unit])


@dataclasses.dataclass(frozen=True)
class Hooks:
    """What a test may do around the tasks.

    Attributes:
      on_start: called with a task's name just before each attempt starts.
      on_end: called with a task's name and its exit code as each attempt
        ends.
      before_retry: called with a task's name and the attempt number
        before a failed task runs again.
      backoff_scale: the retry policy's backoff times this (0: none).
    """
    on_start: Optional[Callable[[str], None]] = None
    on_end: Optional[Callable[[str, int], None]] = None
    before_retry: Optional[Callable[[str, int], None]] = None
    backoff_scale: float = 1.0


def run(path: str, job_uuid: str, env: dict,
        parameters: Optional[dict] = None,
        secrets: Optional[Dict[str, dict]] = None,
        timeout: int = 900, volumes: Optional[Dict[str, str]] = None,
        containers: Optional[Containers] = None,
        hooks: Hooks = Hooks()) -> Result:
    """Runs the package's tasks, those ready together side by side,
    starting none after a task failed, as the KFP backend would.

    Args:
      env: the environment of a task's subprocess (unused in containers,
        which have their image's).
      secrets: secret name -> {key: value}, the cluster's secrets.
      volumes: claim name -> the host folder standing in for it.
      containers: run each task in its image (see `Containers`).
      hooks: see `Hooks`; by default a failed task is retried as its retry
        policy says, with its backoff.
    """
    runner = _Runner(path, job_uuid, env, secrets, timeout, volumes,
                     containers, hooks)
    runner.run_dag(runner.spec["root"],
                   _pipeline_parameters(runner.spec, parameters or {}))
    return runner.result
