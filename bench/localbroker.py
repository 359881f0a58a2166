"""A private, throw-away RabbitMQ node for benchmarks (the worker tests' approach).

The node runs as a child process with its own data, log and config directories, node name,
AMQP, management, distribution and epmd ports, and a private HOME, so neither a system broker
nor ``~/.erlang.cookie`` is touched.  The management plugin is enabled, as the kit enables it on
real hosts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pika
import pika.exceptions

RABBITMQ_BIN = Path(os.environ.get("RABBITMQ_BIN_DIR", "/usr/lib/rabbitmq/bin"))
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BrokerError(RuntimeError):
    """The private broker could not be started or stopped."""


class LocalBroker:
    """Start and stop one private RabbitMQ node under ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        server = RABBITMQ_BIN / "rabbitmq-server"
        if not server.exists():
            raise BrokerError(
                f"{server} not found: install the Debian package rabbitmq-server, set RABBITMQ_BIN_DIR, or give --url"
            )
        self.base_dir = base_dir
        self.node = f"evbench{os.getpid()}@localhost"
        self._process: subprocess.Popen[bytes] | None = None
        for sub in ("home", "mnesia", "log"):
            (base_dir / sub).mkdir(parents=True, exist_ok=True)
        (base_dir / "home").chmod(0o700)
        (base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (base_dir / "rabbitmq-env.conf").write_text("")
        self._pick_ports()

    def _pick_ports(self) -> None:
        ports: set[int] = set()
        while len(ports) < 4:
            ports.add(free_port())
        self.amqp_port, self.http_port, self.dist_port, self.epmd_port = sorted(ports)
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.http_port}\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.file.level = warning\n"
        )

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

    def start(self, attempts: int = 3) -> None:
        """Start the node; a port taken in the meantime means new ports and another try."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return
            except BrokerError:
                self.close()
                if attempt == attempts or "eaddrinuse" not in self.output_tail(200):
                    raise
                self._pick_ports()

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
        deadline = time.monotonic() + START_TIMEOUT
        while not self._accepts_amqp():
            if time.monotonic() > deadline:
                raise BrokerError(f"broker did not start; output:\n{self.output_tail()}")
            time.sleep(0.2)

    def close(self) -> None:
        """SIGTERM the node, wait for it, and stop the epmd it started on its private port."""
        process = self._process
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        finally:
            epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env=self.env(),
                capture_output=True,
                check=False,
                timeout=10,
            )

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against this node (for versions; slow, not for polling)."""
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def output_tail(self, lines: int = 40) -> str:
        path = self.base_dir / "server.out"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _accepts_amqp(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise BrokerError(f"rabbitmq-server exited with {self._process.returncode}; output:\n{self.output_tail()}")
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
        except pika.exceptions.AMQPError:
            return False
        connection.close()
        return True
