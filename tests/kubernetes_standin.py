"""A local stand-in for the Kubernetes API with the Kubeflow Training
Operator's TFJobs (kubeflow.org/v1), for the Trainer's TFJob path.

NOT a cluster and not the operator: it answers the calls the Trainer makes
(create, get and delete a TFJob) in the shapes the API server uses, and
refuses a TFJob that does not match the Training Operator's published CRD
schema (tests/data/kubeflow.org_tfjobs-v1.9.0.yaml.gz, from the
kubeflow/training-operator v1.9.0 release's
manifests/base/crds/kubeflow.org_tfjobs.yaml), strictly: an unknown field
is refused too, as `kubectl --validate=strict` does. What the operator
would do it does on this machine: each replica's container command runs
as a process here (the image's `python` is this interpreter), with the
container's environment and the TF_CONFIG the operator gives a replica
(chief and worker tasks on free loopback ports), and the job's conditions
follow its replicas (Created, Running, then Succeeded when the Chief has,
or Failed when any replica has, with the operator's wording). Whether a
real cluster runs the pods is not proven here (docs/kubeflow.md says so).
"""

import contextlib
import copy
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import yaml

from tests import ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRD = os.path.join(ROOT, "tests", "data", "kubeflow.org_tfjobs-v1.9.0.yaml.gz")
_PATH = re.compile(r"^/apis/kubeflow\.org/v1/namespaces/([^/]+)/tfjobs"
                   r"(?:/([^/?]+))?$")
# The order the operator gives replica types in TF_CONFIG's cluster.
_TYPES = ("Chief", "Worker")


def _strict(schema):
    """The schema with unknown fields refused wherever fields are listed."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def tfjob_schema() -> dict:
    """The TFJob v1 openAPIV3Schema of the published CRD, made strict."""
    with gzip.open(CRD, "rt", encoding="utf-8") as f:
        crd = yaml.safe_load(f)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return _strict(version["schema"]["openAPIV3Schema"])


def schema_errors(job: dict, schema=None) -> list:
    """What the published schema finds wrong with `job` (path: message)."""
    validator = jsonschema.Draft7Validator(schema or tfjob_schema())
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(job))


class _Job:
    """One TFJob: its object, and its replicas' processes once started."""

    def __init__(self, namespace, body):
        self.namespace = namespace
        self.body = body
        self.processes = {}  # (type, index) -> Popen
        self.tf_configs = {}
        self.conditions = []
        self.deleted = False

    def condition(self, kind, message=""):
        self.conditions.append({"type": kind, "status": "True",
                                "message": message,
                                "lastTransitionTime": time.strftime(
                                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def view(self):
        view = copy.deepcopy(self.body)
        view["status"] = {"conditions": copy.deepcopy(self.conditions)}
        return view


class StandIn:
    """The API's state, what it was asked, and how it runs replicas."""

    def __init__(self, env=None, kill=None, busy_gets=0):
        self.schema = tfjob_schema()
        self.env = dict(env or os.environ)
        # (replica type, index) to kill with SIGKILL once it has started,
        # as a node lost under it would.
        self.kill = kill
        # How many GETs of a job answer 503 first, as a busy API server.
        self.busy_gets = busy_gets
        self.jobs = {}  # (namespace, name) -> _Job
        self.requests = []  # (method, path, body)
        self._lock = threading.Lock()

    # The operator's part.
    def _start(self, job: _Job):
        specs = job.body["spec"]["tfReplicaSpecs"]
        cluster = {kind.lower(): [f"127.0.0.1:{ports.free_port()}"
                                  for _ in range(specs[kind]["replicas"])]
                   for kind in _TYPES if kind in specs}
        job.condition("Created", "TFJob is created.")
        for kind in _TYPES:
            if kind not in specs:
                continue
            [container] = specs[kind]["template"]["spec"]["containers"]
            command = [*container["command"], *container.get("args", [])]
            if command[0] == "python":
                command[0] = sys.executable
            env = dict(self.env)
            for variable in container.get("env", []):
                if "value" not in variable:
                    raise ValueError(f"stand-in: env {variable} is not a "
                                     "plain value")
                env[variable["name"]] = variable["value"]
            for index in range(specs[kind]["replicas"]):
                config = {"cluster": cluster,
                          "task": {"type": kind.lower(), "index": index}}
                job.tf_configs[(kind, index)] = config
                job.processes[(kind, index)] = subprocess.Popen(  # pylint: disable=consider-using-with
                    command, cwd=ROOT,
                    env=dict(env, TF_CONFIG=json.dumps(config)))
        job.condition("Running", "TFJob is running.")
        threading.Thread(target=self._watch, args=(job,), daemon=True).start()

    def _watch(self, job: _Job):
        killed = False
        while not job.deleted:
            codes = {key: p.poll() for key, p in job.processes.items()}
            if self.kill in job.processes and not killed:
                time.sleep(3)
                job.processes[self.kill].kill()
                killed = True
                continue
            failed = [key for key, code in codes.items()
                      if code not in (None, 0)]
            if failed:
                kind = failed[0][0]
                name = job.body["metadata"]["name"]
                job.condition("Failed",
                              f"TFJob {job.namespace}/{name} is failed "
                              f"because {len(failed)} {kind} replica(s) "
                              "failed.")
                self._stop(job)  # cleanPodPolicy: Running
                return
            # As the operator's default success policy: a job with a Chief
            # has succeeded when the Chief has; Workers still running are
            # then stopped (cleanPodPolicy: Running).
            chief = [code for (kind, _), code in codes.items()
                     if kind == "Chief"]
            if (chief == [0]) or (not chief and all(
                    code == 0 for code in codes.values())):
                name = job.body["metadata"]["name"]
                job.condition("Succeeded", f"TFJob {job.namespace}/{name} "
                              "successfully completed.")
                self._stop(job)
                return
            time.sleep(0.2)

    @staticmethod
    def _stop(job: _Job):
        for process in job.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()

    # The API server's part.
    def handle(self, method, path, body):
        self.requests.append((method, path, body))
        match = _PATH.match(path)
        if not match:
            return 404, {"kind": "Status", "reason": "NotFound"}
        namespace, name = match.groups()
        with self._lock:
            if method == "POST" and name is None:
                errors = schema_errors(body, self.schema)
                if errors:
                    return 422, {"kind": "Status", "reason": "Invalid",
                                 "message": "; ".join(errors)}
                key = (namespace, body["metadata"]["name"])
                if key in self.jobs:
                    return 409, {"kind": "Status", "reason": "AlreadyExists"}
                job = self.jobs[key] = _Job(namespace, body)
                self._start(job)
                return 201, job.view()
            job = self.jobs.get((namespace, name))
            if job is None or job.deleted:
                return 404, {"kind": "Status", "reason": "NotFound"}
            if method == "GET":
                if self.busy_gets > 0:
                    self.busy_gets -= 1
                    return 503, {"kind": "Status", "reason": "ServiceUnavailable"}
                return 200, job.view()
            if method == "DELETE":
                job.deleted = True
                self._stop(job)
                return 200, {"kind": "Status", "status": "Success"}
        return 405, {"kind": "Status", "reason": "MethodNotAllowed"}

    def stop_all(self):
        for job in self.jobs.values():
            job.deleted = True
            self._stop(job)


@contextlib.contextmanager
def serving(work_dir: str, namespace: str = "pipelines", **settings):
    """Serves a StandIn on loopback; yields (stand-in, kube config path)
    for the client (KUBECONFIG)."""
    state = StandIn(**settings)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            code, reply = state.handle(method, self.path.split("?")[0], body)
            data = json.dumps(reply).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # pylint: disable=invalid-name
            self._reply("GET")

        def do_POST(self):  # pylint: disable=invalid-name
            self._reply("POST")

        def do_DELETE(self):  # pylint: disable=invalid-name
            self._reply("DELETE")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = os.path.join(work_dir, "kubeconfig")
    with open(kubeconfig, "w", encoding="utf-8") as f:
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {
                "server": f"http://127.0.0.1:{server.server_address[1]}"}}],
            "users": [{"name": "pipeline", "user": {}}],
            "contexts": [{"name": "standin", "context": {
                "cluster": "standin", "user": "pipeline",
                "namespace": namespace}}],
            "current-context": "standin"}, f)
    try:
        yield state, kubeconfig
    finally:
        state.stop_all()
        server.shutdown()
        server.server_close()
