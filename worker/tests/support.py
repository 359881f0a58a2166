"""Test-side tools: worker subprocesses, an admin AMQP client, config files, event-publish."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
from toml_writer import render_toml
from waiting import wait_until

from rabbit_broker import RabbitBroker
from topology import ORDERS, WORKER_PASSWORD, WORKER_USER, WorkQueue

BIN_DIR = Path(sys.executable).parent
EVENT_WORKER = BIN_DIR / "event-worker"
EVENT_PUBLISH = BIN_DIR / "event-publish"

# Variables a developer's or CI's environment might carry that would change the worker's
# behaviour under test.
SCRUBBED_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "EVENT_PUBLISH_URL")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


# -- a vhost of the test broker ----------------------------------------------------------------


@dataclass
class Vhost:
    """One test's private vhost on the session broker, with an admin connection."""

    broker: RabbitBroker
    name: str
    workdir: Path
    _connection: pika.BlockingConnection | None = field(default=None, repr=False)

    @property
    def channel(self) -> Any:
        """A new channel on the admin connection (reconnecting after a broker restart)."""
        if self._connection is not None and self._connection.is_open:
            try:
                return self._connection.channel()
            except pika.exceptions.AMQPError:
                self._connection = None
        self._connection = self.broker.connect(self.name)
        return self._connection.channel()

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
        self._connection = None

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str | Mapping[str, Any],
        *,
        message_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish one persistent message, confirmed, as the admin."""
        if isinstance(body, Mapping):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        channel = self.channel
        channel.confirm_delivery()
        channel.basic_publish(
            exchange,
            routing_key,
            body,
            pika.BasicProperties(
                delivery_mode=2,
                content_type="application/json",
                message_id=message_id,
                headers=dict(headers) if headers else None,
            ),
            mandatory=True,
        )
        channel.close()

    def ready_count(self, queue: str) -> int:
        """Messages ready in ``queue`` (unacked ones not included)."""
        channel = self.channel
        count: int = channel.queue_declare(queue, passive=True).method.message_count
        channel.close()
        return count

    def queue_totals(self, queue: str) -> tuple[int, int]:
        """(ready, unacked) as the broker reports them."""
        out = self.broker.ctl(
            "list_queues", "-p", self.name, "name", "messages_ready", "messages_unacknowledged"
        )
        for line in out.splitlines():
            parts = line.split("\t")
            if parts and parts[0] == queue:
                return int(parts[1]), int(parts[2])
        raise KeyError(queue)

    def wait_until_settled(self, queue: str, timeout: float = 10.0) -> None:
        """Wait until ``queue`` holds no ready and no unacked messages (acks travel async)."""
        totals: list[tuple[int, int]] = []

        def settled() -> bool:
            totals.append(self.queue_totals(queue))
            return totals[-1] == (0, 0)

        try:
            wait_until(settled, timeout, interval=0.1, what=f"{queue} to be empty")
        except TimeoutError:
            raise AssertionError(f"{queue} (ready, unacked) is still {totals[-1]}") from None

    def drain(self, queue: str) -> list[tuple[Any, Any, bytes]]:
        """Take every ready message off ``queue``: (method, properties, body) tuples."""
        channel = self.channel
        result = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            result.append((method, properties, body))
        channel.close()
        return result

    def wait_for_messages(self, queue: str, count: int, timeout: float) -> None:
        wait_until(
            lambda: self.ready_count(queue) >= count,
            timeout,
            interval=0.05,
            what=f"{count} messages in {queue}",
        )

    def worker_config(
        self,
        *,
        queue: WorkQueue = ORDERS,
        handler: str = "orders",
        options: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        filename: str = "worker.toml",
    ) -> Path:
        password_file = self.workdir / "worker.password"
        password_file.write_text(WORKER_PASSWORD + "\n")
        data: dict[str, Any] = {
            "broker": {
                "hosts": [f"127.0.0.1:{self.broker.amqp_port}"],
                "vhost": self.name,
                "username": WORKER_USER,
                "password_file": str(password_file),
                "heartbeat": 30,
                "connection_timeout": 5,
            },
            "consumer": {
                "queue": queue.name,
                "prefetch": 4,
                "retry_limit": 3,
                "retry_exchange": queue.retry_exchange,
                "dead_letter_exchange": queue.dead_letter_exchange,
                "shutdown_timeout": 20,
            },
            "handler": {
                "name": handler,
                "options": dict(options if options is not None else {"work_seconds": 0.0}),
            },
            "metrics": {"port": 0},
            "reconnect": {"initial_delay": 0.2, "max_delay": 1.0},
        }
        if overrides:
            data = deep_merge(data, overrides)
        path = self.workdir / filename
        path.write_text(render_toml(data))
        return path


# -- a worker subprocess -----------------------------------------------------------------------


class WorkerProcess:
    """``event-worker --config FILE`` as a child process, its output collected line by line."""

    def __init__(self, config: Path, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.lines: list[str] = []
        self.event_log: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen(
            [str(EVENT_WORKER), "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=child_env(env),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            event = parse_event(line)
            with self._cond:
                self.lines.append(line)
                if event is not None:
                    self.event_log.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def snapshot(self) -> list[str]:
        with self._cond:
            return list(self.lines)

    def wait_for(
        self, predicate: Callable[[list[str]], bool], timeout: float, what: str = "output"
    ) -> list[str]:
        """Block until ``predicate(lines)`` holds; fail with the output so far after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}; worker output:\n"
                        + "\n".join(self.lines[-60:])
                    )
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"worker exited ({self.process.returncode}) while waiting for {what}; "
                        "output:\n" + "\n".join(self.lines[-60:])
                    )
                self._cond.wait(min(remaining, 0.5))
            return list(self.lines)

    def wait_for_line(self, text: str, timeout: float = 15.0, count: int = 1) -> list[str]:
        seen = 0
        scanned = 0

        def enough(lines: list[str]) -> bool:
            nonlocal seen, scanned
            seen += sum(text in line for line in lines[scanned:])
            scanned = len(lines)
            return seen >= count

        return self.wait_for(enough, timeout, what=f"{count} x {text!r}")

    def events(self) -> list[dict[str, Any]]:
        """The structured per-event JSON lines logged so far."""
        with self._cond:
            return list(self.event_log)

    def wait_for_events(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        count: int = 1,
        timeout: float = 15.0,
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` structured event lines matching ``predicate``; return them all."""
        matched: list[dict[str, Any]] = []
        scanned = 0

        def enough(_lines: list[str]) -> bool:
            nonlocal scanned
            matched.extend(e for e in self.event_log[scanned:] if predicate(e))
            scanned = len(self.event_log)
            return len(matched) >= count

        self.wait_for(enough, timeout, what=f"{count} matching event log lines")
        return matched

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def terminate(self) -> None:
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.process.kill()

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Teardown: SIGTERM, then SIGKILL if it lingers (this process only)."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)


def parse_event(line: str) -> dict[str, Any] | None:
    """The structured per-event log line as a dict, or None for any other line."""
    if line.startswith("{") and '"outcome"' in line:
        event: dict[str, Any] = json.loads(line)
        return event
    return None


# -- event-publish -----------------------------------------------------------------------------


def run_publish(
    *args: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENT_PUBLISH), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(env),
        check=False,
    )


def amqp_url(broker: RabbitBroker, vhost: str, user: str = "guest", password: str = "guest") -> str:
    return f"amqp://{user}:{password}@127.0.0.1:{broker.amqp_port}/{vhost.replace('/', '%2F')}"
