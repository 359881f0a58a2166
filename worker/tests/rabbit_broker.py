"""A throw-away RabbitMQ node for the test suite.

The node runs as a child process with its own data, log and config directories, node name,
AMQP port, distribution port and epmd port, and a private HOME (so the Erlang cookie it creates
never touches the user's ~/.erlang.cookie).  It does not care whether a system broker is running
on the default ports.  Stop/start keeps the data directory, so durable queues and persistent
messages survive a restart like they do on a real host.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pika
import pika.exceptions

from helpers import wait_until
from tls_certs import make_certificates

RABBITMQ_BIN = Path(os.environ.get("RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin"))
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0


def free_port() -> int:
    """Return a TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BrokerError(RuntimeError):
    """The test broker could not be started, stopped or controlled."""


class RabbitBroker:
    """Start, stop, restart and administer one private RabbitMQ node."""

    def __init__(self, base_dir: Path) -> None:
        server = RABBITMQ_BIN / "rabbitmq-server"
        if not server.exists():
            raise BrokerError(
                f"{server} not found: install the Debian package rabbitmq-server "
                "(sudo make test-worker installs it) or set RABBITMQ_BIN_DIR"
            )
        self.base_dir = base_dir
        self.amqp_port = free_port()
        self.amqps_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"evtest{os.getpid()}@localhost"
        self._process: subprocess.Popen[bytes] | None = None
        for sub in ("home", "mnesia", "log"):
            (base_dir / sub).mkdir(parents=True, exist_ok=True)
        (base_dir / "home").chmod(0o700)
        (base_dir / "enabled_plugins").write_text("[].\n")
        (base_dir / "rabbitmq-env.conf").write_text("")
        self.certificates = make_certificates(base_dir / "tls")
        certs = self.certificates
        (base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"listeners.ssl.default = 127.0.0.1:{self.amqps_port}\n"
            f"ssl_options.cacertfile = {certs.ca}\n"
            f"ssl_options.certfile = {certs.server_cert}\n"
            f"ssl_options.keyfile = {certs.server_key}\n"
            "ssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = false\n"
            # The suite runs on small CI disks; the default 50 MB limit is not the subject here.
            "disk_free_limit.absolute = 1MB\n"
            "log.file.level = info\n"
        )

    # -- environment -------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.base_dir / "home"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=str(self.base_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base_dir / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base_dir / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base_dir / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self.base_dir / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(self.base_dir / "rabbitmq.pid"),
        )
        env.pop("RABBITMQ_LOGS", None)
        return env

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            raise BrokerError("broker already running")
        out = (self.base_dir / "server.out").open("ab")
        try:
            self._process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            out.close()
        try:
            wait_until(self._accepts_amqp, timeout=START_TIMEOUT, interval=0.2, what="broker up")
        except TimeoutError as exc:
            raise BrokerError(f"broker did not start; output:\n{self.output_tail()}") from exc

    def stop(self) -> None:
        """Stop the node the way systemd does (SIGTERM) and wait for it to exit."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise BrokerError("broker did not stop within the timeout; killed") from None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the node and the epmd daemon it started on its private port."""
        try:
            self.stop()
        finally:
            epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env=self.env(),
                capture_output=True,
                check=False,
                timeout=10,
            )

    def output_tail(self, lines: int = 40) -> str:
        path = self.base_dir / "server.out"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- administration ----------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run rabbitmqctl against this node and return its stdout."""
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(
                f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout

    def parameters(
        self,
        vhost: str = "/",
        username: str = "guest",
        password: str = "guest",
        heartbeat: int | None = None,
    ) -> pika.ConnectionParameters:
        return pika.ConnectionParameters(
            host="127.0.0.1",
            port=self.amqp_port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(username, password),
            connection_attempts=1,
            socket_timeout=5,
            heartbeat=heartbeat,
        )

    def connect(self, vhost: str = "/") -> pika.BlockingConnection:
        return pika.BlockingConnection(self.parameters(vhost))

    def _accepts_amqp(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise BrokerError(
                f"rabbitmq-server exited with {self._process.returncode}; "
                f"output:\n{self.output_tail()}"
            )
        try:
            connection = pika.BlockingConnection(self.parameters())
        except pika.exceptions.AMQPError:
            return False
        connection.close()
        return True
