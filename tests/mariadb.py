"""A private MariaDB server on loopback, for ML Metadata over MySQL.

The test that needs it starts its own server in a temporary data dir (its
own port and socket, nothing shared with a system MariaDB), with a user that
has a password, and stops it afterwards. `mariadb-server` is Debian's
package; `.ci/run` installs it, and so does `ensure_installed` when the test
runs as root on a machine without it.
"""

import contextlib
import dataclasses
import os
import shutil
import subprocess

from tests import ports
from tests import servers

PACKAGE = "mariadb-server"
# Debian puts the server in /usr/sbin, which a non-login PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin",
                               "/usr/bin"])


def _binary(name: str) -> str:
    path = shutil.which(name, path=SEARCH_PATH)
    if path is None:
        raise RuntimeError(f"{name} not found after installing {PACKAGE}.")
    return path


class _Daemon:
    """The mariadbd process of one data dir, which a test may stop and
    start again (same port, same data)."""

    def __init__(self, data_dir: str, socket_path: str, port: int):
        self.data_dir, self.socket_path, self.port = (data_dir, socket_path,
                                                      port)
        self.process = None

    def start(self) -> None:
        """Starts the server, unless it is running."""
        if self.process is not None and self.process.poll() is None:
            return
        with open(os.path.join(self.data_dir, "server.log"), "ab") as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [_binary("mariadbd"), "--no-defaults",
                 f"--datadir={self.data_dir}", f"--socket={self.socket_path}",
                 f"--port={self.port}", "--bind-address=127.0.0.1",
                 "--user=root", "--skip-name-resolve",
                 f"--pid-file={self.data_dir}/mariadb.pid"],
                stdout=log, stderr=subprocess.STDOUT)
        servers.wait_until_up(
            lambda: _sql(self.socket_path, "SELECT 1"), [self.process], 60,
            f"MariaDB did not start; see {self.data_dir}/server.log",
            refused=subprocess.CalledProcessError)

    def stop(self) -> None:
        if self.process is not None:
            servers.stop(self.process, seconds=60)


@dataclasses.dataclass(frozen=True)
class Server:
    """How to reach the running server, and its process."""
    host: str
    port: int
    user: str
    password: str
    database: str
    daemon: _Daemon = dataclasses.field(repr=False, compare=False)

    @property
    def url(self) -> str:
        """The ML Metadata URL, without the password (given by env)."""
        return (f"mysql://{self.user}@{self.host}:{self.port}/"
                f"{self.database}")

    def stop(self) -> None:
        """Stops the server (a store going away); its data stays."""
        self.daemon.stop()

    def start(self) -> None:
        """Starts the stopped server again on the same port and data."""
        self.daemon.start()


def ensure_installed() -> None:
    """Installs Debian's mariadb-server if its binaries are missing."""
    if all(shutil.which(b, path=SEARCH_PATH)
           for b in ("mariadbd", "mariadb-install-db", "mariadb")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            f"mariadbd is not installed; install Debian's {PACKAGE} "
            f"(apt-get install {PACKAGE}) to run this test.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", PACKAGE], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def _sql(socket_path: str, statement: str) -> None:
    subprocess.run([_binary("mariadb"), "--no-defaults", "--user=root",
                    f"--socket={socket_path}", "-e", statement],
                   check=True, capture_output=True, text=True)


@contextlib.contextmanager
def running(data_dir: str, database: str = "mlmd"):
    """Starts a server storing its data in `data_dir`; yields a Server."""
    ensure_installed()
    data_dir = os.path.abspath(data_dir)
    socket_path = os.path.join(data_dir, "mariadb.sock")
    subprocess.run(
        [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data_dir}",
         "--user=root", "--auth-root-authentication-method=socket",
         "--skip-test-db"], check=True, capture_output=True)
    daemon = _Daemon(data_dir, socket_path, ports.free_port())
    try:
        daemon.start()
        server = Server("127.0.0.1", daemon.port, "mlmd",
                        "mlmd-test-password", database, daemon)
        _sql(socket_path,
             f"CREATE USER '{server.user}'@'127.0.0.1' IDENTIFIED BY "
             f"'{server.password}'; GRANT ALL ON *.* TO "
             f"'{server.user}'@'127.0.0.1';")
        yield server
    finally:
        daemon.stop()
