"""A private Flink cluster on loopback: a JobManager and TaskManagers,
started the way Flink's own scripts start them in the foreground
(`jobmanager.sh start-foreground`, `taskmanager.sh start-foreground`), for
the tests of the Beam steps on Flink.

The cluster runs the Flink that Beam's Flink job server was built for
(`flink/job-server/pom.xml`), installed by `make flink` from PyPI's
apache-flink-libraries and apache-flink wheels into a venv of its own
(build/flink-<version>), with the job server built by `make
flink-job-server` (Maven). Both happen here when missing, as for MinIO.
Each cluster has its own config dir, log dir and ports (JobManager RPC and
REST; the TaskManagers' ports are the kernel's picks), listens on localhost
only, and is stopped afterwards.
"""

import contextlib
import ctypes
import dataclasses
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.request

import yaml

import pipeline_config
from tests import ports
from tests import servers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where `make flink-job-server` puts it, as the pipeline looks for it.
JOB_SERVER_JAR = pipeline_config.FLINK_JOB_SERVER_JAR


def job_server_jar() -> str:
    """Beam's Flink job server jar, built with `make flink-job-server` if
    missing."""
    if not os.path.isfile(JOB_SERVER_JAR):
        subprocess.run(["make", "-s", "-C", ROOT, "flink-job-server"],
                       check=True, capture_output=True)
    return JOB_SERVER_JAR


def flink_home() -> str:
    """FLINK_HOME of the Flink the job server was built for (`make flink`
    installs it if missing)."""
    subprocess.run(["make", "-s", "-C", ROOT, "flink"], check=True,
                   capture_output=True)
    found = glob.glob(os.path.join(
        ROOT, "build", f"flink-{flink_version()}", "lib", "python3*",
        "site-packages", "pyflink"))
    if len(found) != 1:
        raise RuntimeError(f"`make flink` left no single pyflink folder "
                           f"({found}) under build/")
    return found[0]


def flink_version() -> str:
    """The Flink version flink/job-server/pom.xml builds for."""
    with open(os.path.join(ROOT, "flink", "job-server", "pom.xml"),
              encoding="utf-8") as f:
        pom = f.read()
    return pom.split("<flink.version>", 1)[1].split("<", 1)[0]


@dataclasses.dataclass(frozen=True)
class Cluster:
    """How to reach the running cluster."""
    master: str  # REST address, host:port

    def get(self, path: str):
        """A REST API resource, parsed."""
        with urllib.request.urlopen(f"http://{self.master}{path}",
                                    timeout=10) as response:
            return json.load(response)

    def jobs(self) -> list:
        """Every job the cluster has run or runs (name, state, ...)."""
        return self.get("/jobs/overview")["jobs"]


def _write_config(home: str, conf_dir: str, tmp_dir: str,
                  task_slots: int) -> dict:
    shutil.copytree(os.path.join(home, "conf"), conf_dir)
    path = os.path.join(conf_dir, "config.yaml")
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    rest_port = ports.free_port()
    config["jobmanager"]["rpc"]["port"] = ports.free_port()
    config["jobmanager"]["memory"]["process"]["size"] = "1024m"
    config["taskmanager"]["numberOfTaskSlots"] = task_slots
    # Beam's translation of a TFX step has many operators, each with
    # network buffers: Flink's default share (10% of a small process) is
    # too little for StatisticsGen.
    # Beam uses little of Flink's managed memory.
    config["taskmanager"]["memory"] = {
        "process": {"size": "2048m"}, "managed": {"size": "128m"},
        "network": {"min": "512mb", "max": "512mb"}}
    config["rest"].update({"port": rest_port})
    config["blob"] = {"server": {"port": "0"}}
    # Flink's default is /tmp, where every TaskManager keeps the jars of
    # each job it ran (Beam's job server ships 150 MB per job) after the
    # cluster is gone.
    config["io"] = {"tmp": {"dirs": tmp_dir}}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f)
    return config


def _end_with_this_process():
    """In the child: be ended when the test process ends, even killed
    (Flink's scripts exec the JVM, which keeps this)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def running(work_dir: str, task_managers: int = 2, task_slots: int = 1):
    """Starts a JobManager and `task_managers` TaskManagers of
    `task_slots` slots each, keeping config and logs in `work_dir`; yields
    a Cluster once every TaskManager has registered."""
    home = flink_home()
    conf_dir = os.path.join(work_dir, "conf")
    log_dir = os.path.join(work_dir, "log")
    tmp_dir = os.path.join(work_dir, "tmp")
    os.makedirs(log_dir, exist_ok=True)
    os.makedirs(tmp_dir, exist_ok=True)
    config = _write_config(home, conf_dir, tmp_dir, task_slots)
    cluster = Cluster(f"localhost:{config['rest']['port']}")
    env = dict(os.environ, FLINK_HOME=home, FLINK_CONF_DIR=conf_dir,
               FLINK_LOG_DIR=log_dir, FLINK_PID_DIR=work_dir)
    processes = []

    def start(name, *command):
        with open(os.path.join(log_dir, f"{name}.out"), "wb") as out:
            processes.append(subprocess.Popen(  # pylint: disable=consider-using-with
                [os.path.join(home, "bin", command[0]), *command[1:]],
                env=env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_end_with_this_process))

    try:
        start("jobmanager", "jobmanager.sh", "start-foreground")
        for index in range(task_managers):
            start(f"taskmanager-{index}", "taskmanager.sh",
                  "start-foreground", "-D",
                  f"taskmanager.resource-id=taskmanager-{index}")
        servers.wait_until_up(
            lambda: cluster.get("/overview")["taskmanagers"] == task_managers,
            processes, 120, f"the Flink cluster did not start; see {log_dir}")
        yield cluster
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            servers.stop(process)
        # The jobs' jars (150 MB each) are of no use once the cluster is
        # gone; the logs stay.
        shutil.rmtree(tmp_dir, ignore_errors=True)


@contextlib.contextmanager
def job_server(cluster: Cluster, work_dir: str):
    """Beam's Flink job server for `cluster`, running on its own as it runs
    beside a cluster on Kubernetes (`java -jar`, the flags Beam's
    FlinkRunner starts it with, a free job port, its artifacts and log in
    `work_dir`); yields its job endpoint, host:port, once it accepts
    connections."""
    port = ports.free_port()
    log_path = os.path.join(work_dir, "job-server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            ["java", "-jar", job_server_jar(), "--flink-master",
             cluster.master, "--artifacts-dir",
             os.path.join(work_dir, "artifacts"), "--job-port", str(port),
             "--artifact-port", "0", "--expansion-port", "0"],
            stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_end_with_this_process)
    try:
        servers.wait_until_up(
            lambda: socket.create_connection(("localhost", port),
                                             timeout=1).close(),
            [process], 120,
            f"Beam's Flink job server did not start; see {log_path}")
        yield f"localhost:{port}"
    finally:
        servers.stop(process)
