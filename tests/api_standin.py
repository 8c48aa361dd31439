"""A local HTTP stand-in for the KFP v2 and Vertex AI REST APIs.

NOT a cluster and not Vertex AI: it answers the few calls `deploy` and
`schedule` make, in the shapes the real APIs use (KFP `apis/v2beta1`,
Vertex `v1`), keeps what was created in memory and records every request,
so tests can check what the product asked for. Whether a real KFP backend
or Vertex accepts those requests is not proven here (docs/kubeflow.md says so).
"""

import cgi
import contextlib
import io
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KFP = "/apis/v2beta1"


class State:
    """What the stand-in holds and saw."""

    def __init__(self, token=None):
        self.token = token
        self.requests = []  # (method, path, query, body)
        self.pipelines = {}  # id -> {"display_name", "versions": [...]}
        self.experiments = {}  # id -> display name
        self.runs = {}
        self.recurring_runs = {}
        self.vertex = {}  # resource name -> body

    def calls(self, method=None, prefix=""):
        return [r for r in self.requests
                if (method is None or r[0] == method) and r[1].startswith(
                    prefix)]


def _new_id() -> str:
    return str(uuid.uuid4())


class _Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args):  # Quiet.
        pass

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("multipart/form-data"):
            form = cgi.FieldStorage(
                fp=io.BytesIO(raw), headers=self.headers,
                environ={"REQUEST_METHOD": "POST", "CONTENT_TYPE": kind})
            return {"uploadfile": form["uploadfile"].value.decode()}
        return json.loads(raw) if raw else {}

    def _handle(self, method):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        body = self._body() if method == "POST" else {}
        self.state.requests.append((method, url.path, query, body))
        if self.state.token is not None and self.headers.get(
                "Authorization") != f"Bearer {self.state.token}":
            return self._reply(401, {"error": "Unauthorized", "code": 16})
        if url.path.startswith(KFP):
            return self._kfp(method, url.path[len(KFP):], query, body)
        if url.path.startswith("/v1/"):
            return self._vertex(method, url.path[len("/v1/"):], query, body)
        return self._reply(404, {"error": f"no route {url.path}"})

    def do_GET(self):  # pylint: disable=invalid-name
        self._handle("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._handle("POST")

    # -- KFP v2beta1 --------------------------------------------------------
    def _kfp(self, method, path, query, body):
        state = self.state
        if path == "/healthz":
            return self._reply(200, {"multi_user": False})
        if path == "/pipelines" and method == "GET":
            wanted = _filter_value(query)
            found = [{"pipeline_id": i, "display_name": p["display_name"]}
                     for i, p in state.pipelines.items()
                     if wanted in (None, p["display_name"])]
            return self._reply(200, {"pipelines": found} if found else {})
        if path == "/pipelines/upload":
            pipeline_id, version_id = _new_id(), _new_id()
            state.pipelines[pipeline_id] = {
                "display_name": query["name"],
                "versions": [(version_id, query["name"],
                              body["uploadfile"])]}
            return self._reply(200, {"pipeline_id": pipeline_id,
                                     "display_name": query["name"]})
        if path == "/pipelines/upload_version":
            pipeline = state.pipelines.get(query.get("pipelineid"))
            if pipeline is None:
                return self._reply(404, {"error": "no such pipeline"})
            version_id = _new_id()
            pipeline["versions"].append((version_id, query["name"],
                                         body["uploadfile"]))
            return self._reply(200, {"pipeline_version_id": version_id,
                                     "pipeline_id": query["pipelineid"],
                                     "display_name": query["name"]})
        if path.startswith("/pipelines/") and path.endswith("/versions"):
            pipeline = state.pipelines[path.split("/")[2]]
            versions = [{"pipeline_version_id": v[0], "display_name": v[1]}
                        for v in reversed(pipeline["versions"])]
            return self._reply(200, {"pipeline_versions": versions[
                :int(query.get("page_size", 100))]})
        if path == "/experiments" and method == "GET":
            wanted = _filter_value(query)
            found = [{"experiment_id": i, "display_name": n}
                     for i, n in state.experiments.items()
                     if wanted in (None, n)]
            return self._reply(200, {"experiments": found} if found else {})
        if path == "/experiments" and method == "POST":
            experiment_id = _new_id()
            state.experiments[experiment_id] = body["display_name"]
            return self._reply(200, dict(body, experiment_id=experiment_id))
        if path == "/runs" and method == "POST":
            run_id = _new_id()
            state.runs[run_id] = body
            return self._reply(200, dict(body, run_id=run_id))
        if path == "/recurringruns" and method == "POST":
            recurring_run_id = _new_id()
            state.recurring_runs[recurring_run_id] = body
            return self._reply(200, dict(body,
                                         recurring_run_id=recurring_run_id))
        return self._reply(404, {"error": f"no KFP route {method} {path}"})

    # -- Vertex AI v1 -------------------------------------------------------
    def _vertex(self, method, path, query, body):
        parts = path.split("/")
        if method == "POST" and len(parts) == 5 and parts[4] in (
                "pipelineJobs", "schedules"):
            job_id = query.get("pipelineJobId") or _new_id()
            name = f"{path}/{job_id}"
            self.state.vertex[name] = body
            return self._reply(200, dict(body, name=name, state=(
                "PIPELINE_STATE_PENDING" if parts[4] == "pipelineJobs"
                else "ACTIVE")))
        if method == "GET" and path in self.state.vertex:
            return self._reply(200, dict(self.state.vertex[path], name=path))
        return self._reply(404, {"error": {"code": 404, "message":
                                           f"no Vertex route {path}",
                                           "status": "NOT_FOUND"}})


def _filter_value(query):
    """The display name a KFP list filter asks for, if any."""
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"]).get("predicates", [])
    for predicate in predicates:
        if predicate.get("key") in ("display_name", "name"):
            return predicate.get("stringValue", predicate.get("string_value"))
    return None


@contextlib.contextmanager
def serving(token=None):
    """Yields (base URL, State) of a stand-in on a free loopback port."""
    state = State(token)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
