"""Runs a compiled KFP pipeline package on this machine, task by task.

This is what the KFP backend does with the package, minus Kubernetes: it
orders the root DAG's tasks by their `dependentTasks`, resolves each task's
input parameters (pipeline parameters, the job uuid), fills the
`{{$.inputs.parameters[...]}}` placeholders of the task's container args, sets
the environment the kfp-kubernetes platform spec asks for (secrets as env
vars, from a dict standing in for the cluster's secrets), and runs the
container's exact command and args as a subprocess. The image is not used:
the command runs in this environment, where the package is installed as it
is in the image. Any placeholder or input kind this runner does not know
fails the run, so the test cannot pass on a package it did not fully read.
"""

import re
import subprocess
from typing import Dict, List, Optional

import yaml

PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
JOB_UUID = "{{$.pipeline_job_uuid}}"


class PackageError(AssertionError):
    """The package uses something this runner does not understand."""


def load(path: str):
    """(pipeline spec, platform spec or {}) from a KFP YAML package."""
    with open(path, encoding="utf-8") as f:
        documents = list(yaml.safe_load_all(f))
    platform = documents[1] if len(documents) > 1 else {}
    return documents[0], platform


def task_order(spec: dict) -> List[str]:
    """Root task names in an order that respects `dependentTasks`."""
    tasks = spec["root"]["dag"]["tasks"]
    order, done = [], set()
    while len(order) < len(tasks):
        ready = [name for name, task in sorted(tasks.items())
                 if name not in done
                 and set(task.get("dependentTasks", [])) <= done]
        if not ready:
            raise PackageError(f"cycle among {sorted(set(tasks) - done)}")
        order.extend(ready)
        done.update(ready)
    return order


def _pipeline_parameters(spec: dict, overrides: dict) -> dict:
    definitions = spec["root"].get("inputDefinitions", {}).get(
        "parameters", {})
    unknown = set(overrides) - set(definitions)
    if unknown:
        raise PackageError(f"no pipeline parameters {sorted(unknown)}")
    values = {}
    for name, definition in definitions.items():
        value = overrides.get(name, definition.get("defaultValue"))
        if definition["parameterType"] == "NUMBER_INTEGER":
            value = int(value)
        values[name] = value
    return values


def _task_inputs(task: dict, parameters: dict, job_uuid: str) -> dict:
    inputs = {}
    for name, source in task.get("inputs", {}).get("parameters", {}).items():
        if "componentInputParameter" in source:
            inputs[name] = parameters[source["componentInputParameter"]]
        elif source.get("runtimeValue", {}).get("constant") == JOB_UUID:
            inputs[name] = job_uuid
        elif "constant" in source.get("runtimeValue", {}):
            inputs[name] = source["runtimeValue"]["constant"]
        else:
            raise PackageError(f"input {name!r}: unknown source {source}")
    return inputs


def _fill(arg: str, inputs: dict) -> str:
    def value(match):
        name = match.group(1)
        if name not in inputs:
            raise PackageError(f"placeholder for unknown input {name!r}")
        return str(inputs[name])
    filled = PLACEHOLDER.sub(value, arg)
    if "{{$" in filled:
        raise PackageError(f"unknown placeholder in {arg[:200]!r}")
    return filled


def task_commands(path: str, job_uuid: str,
                  parameters: Optional[dict] = None,
                  secrets: Optional[Dict[str, dict]] = None):
    """[(task name, command + args, extra env)] in dependency order."""
    spec, platform = load(path)
    values = _pipeline_parameters(spec, parameters or {})
    executors = spec["deploymentSpec"]["executors"]
    platform_executors = (platform.get("platforms", {}).get("kubernetes", {})
                          .get("deploymentSpec", {}).get("executors", {}))
    commands = []
    for name in task_order(spec):
        task = spec["root"]["dag"]["tasks"][name]
        component = spec["components"][task["componentRef"]["name"]]
        label = component["executorLabel"]
        container = executors[label]["container"]
        inputs = _task_inputs(task, values, job_uuid)
        argv = [_fill(a, inputs)
                for a in container["command"] + container.get("args", [])]
        env = {}
        for entry in platform_executors.get(label, {}).get("secretAsEnv", []):
            secret = (secrets or {})[entry["secretName"]]
            for pair in entry["keyToEnv"]:
                env[pair["envVar"]] = secret[pair["secretKey"]]
        for entry in container.get("env", []):
            env[entry["name"]] = entry["value"]
        commands.append((task["taskInfo"]["name"], argv, env))
    return commands


def run(path: str, job_uuid: str, env: dict,
        parameters: Optional[dict] = None,
        secrets: Optional[Dict[str, dict]] = None, timeout: int = 900):
    """Runs every task; returns [(task name, CompletedProcess)], stopping at
    the first task that fails, as the KFP backend would."""
    results = []
    for name, argv, task_env in task_commands(path, job_uuid, parameters,
                                              secrets):
        result = subprocess.run(argv, env=dict(env, **task_env),
                                capture_output=True, text=True,
                                timeout=timeout, check=False)
        results.append((name, result))
        if result.returncode != 0:
            break
    return results
