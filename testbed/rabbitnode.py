"""A private, throw-away RabbitMQ node: the one launcher of the worker tests and the benchmark.

The node runs as a child process of the Debian package's ``rabbitmq-server`` with its own data,
log and config directories, node name, ports (AMQP, management, distribution, epmd) and a
private HOME, so neither a system broker on the default ports nor ``~/.erlang.cookie`` is
touched.  ``stop``/``start`` keep the data directory, so durable queues and persistent messages
survive a restart as they do on a real host.  Subclasses add listeners by extending
``config_lines`` (the worker tests add TLS).

Waits with the kit's one ``wait_until`` (testbed/waiting.py).
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

# This module has two names: testbed.rabbitnode where the repository root is on sys.path (tests,
# benchmark) and rabbitnode where testbed/ is (the worker tests); wait_until comes from beside it.
# mypy knows it by one name in each run (bench: the first, worker: the second) and resolves one
# branch; the ignores are for the other.
if __package__:
    from .waiting import wait_until  # type: ignore[import-not-found, unused-ignore]
else:
    from waiting import wait_until  # type: ignore[no-redef, unused-ignore]

RABBITMQ_BIN = Path(os.environ.get("RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin"))
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
START_ATTEMPTS = 3


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BrokerError(RuntimeError):
    """The private node could not be started, stopped or controlled."""


class RabbitNode:
    """Start, stop, restart and administer one private RabbitMQ node under ``base_dir``."""

    def __init__(self, base_dir: Path, *, management: bool = False, log_level: str = "info") -> None:
        server = RABBITMQ_BIN / "rabbitmq-server"
        if not server.exists():
            raise BrokerError(
                f"{server} not found: install the Debian package rabbitmq-server "
                "(sudo make test installs it) or set RABBITMQ_BIN_DIR"
            )
        self.base_dir = base_dir
        self.management = management
        self.log_level = log_level
        self.node = f"evtest{os.getpid()}@localhost"
        self._process: subprocess.Popen[bytes] | None = None
        self._has_started = False
        for sub in ("home", "mnesia", "log"):
            (base_dir / sub).mkdir(parents=True, exist_ok=True)
        (base_dir / "home").chmod(0o700)
        plugins = "[rabbitmq_management]" if management else "[]"
        (base_dir / "enabled_plugins").write_text(f"{plugins}.\n")
        (base_dir / "rabbitmq-env.conf").write_text("")
        self._pick_ports()

    def _pick_ports(self) -> None:
        ports: set[int] = set()
        while len(ports) < 5:
            ports.add(free_port())
        self.amqp_port, self.amqps_port, self.http_port, self.dist_port, self.epmd_port = sorted(ports)

    def config_lines(self) -> list[str]:
        """The node's rabbitmq.conf, one setting a line."""
        lines = [f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}"]
        if self.management:
            lines += ["management.tcp.ip = 127.0.0.1", f"management.tcp.port = {self.http_port}"]
        # Small CI disks; the default 50 MB free-disk alarm is not what these nodes are for.
        return [*lines, "disk_free_limit.absolute = 1MB", f"log.file.level = {self.log_level}"]

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

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
        """Start the node and wait until it accepts AMQP.

        Before the first successful start, a port taken in the meantime (``eaddrinuse``) means
        new ports and another try; after it, the ports stay, as clients hold them.
        """
        if self.running:
            raise BrokerError("broker already running")
        for attempt in range(1, START_ATTEMPTS + 1):
            (self.base_dir / "rabbitmq.conf").write_text("\n".join(self.config_lines()) + "\n")
            try:
                self._start_once()
            except BrokerError:
                self.close()
                retry = not self._has_started and "eaddrinuse" in self.output_tail(200)
                if attempt == START_ATTEMPTS or not retry:
                    raise
                self._pick_ports()
            else:
                self._has_started = True
                return

    def _start_once(self) -> None:
        with (self.base_dir / "server.out").open("ab") as out:
            self._process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
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
        """Run rabbitmqctl against this node and return its stdout (slow: not for polling)."""
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
            raise BrokerError(f"rabbitmq-server exited with {self._process.returncode}; output:\n{self.output_tail()}")
        try:
            connection = pika.BlockingConnection(self.parameters())
        except pika.exceptions.AMQPError:
            return False
        connection.close()
        return True
