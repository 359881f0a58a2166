"""The consumers a benchmark can start: the kit's ``event-worker`` and the baselines."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.context import REPO
from bench.procs import BIN_DIR, ChildProcess
from bench.target import Broker
from plugins.module_utils.queue_names import derived
from testbed.toml_writer import render_toml

ACKED = b'"outcome": "acked"'
DONE = b"done "
KIT_DEFAULT_PREFETCH = 100  # consumer.prefetch's default, and the role's event_worker_concurrency


def kit_config(
    broker: Broker,
    queue: str,
    workdir: Path,
    *,
    prefetch: int | None,
    handler: str = "noop",
    options: dict[str, Any] | None = None,
    handler_settings: dict[str, Any] | None = None,
    name: str = "worker",
) -> Path:
    """A worker TOML for ``queue`` on ``broker``; ``prefetch=None`` keeps the kit's default."""
    password_file = workdir / "worker.password"
    password_file.write_text(broker.password + "\n")
    password_file.chmod(0o600)
    params = broker.parameters
    names = derived(queue)
    consumer: dict[str, Any] = {
        "queue": queue,
        "retry_exchange": names["retry_exchange"],
        "dead_letter_exchange": names["dead_letter_exchange"],
    }
    if prefetch is not None:
        consumer["prefetch"] = prefetch
    tables: dict[str, dict[str, Any]] = {
        "broker": {
            "hosts": [f"{params.host}:{params.port}"],
            "vhost": broker.vhost,
            "username": broker.username,
            "password_file": str(password_file),
        },
        "consumer": consumer,
        "handler": {"name": handler, **(handler_settings or {})},
        "metrics": {"port": 0},
    }
    if options:
        tables["handler.options"] = options
    path = workdir / f"{name}.toml"
    path.write_text(render_toml(tables))
    return path


@dataclass(frozen=True, slots=True)
class Consumer:
    """A kind of consumer: ``kit...`` (event-worker) or a baseline from :mod:`bench.clients`."""

    kind: str
    label: str
    handler: str = "noop"
    options: dict[str, Any] = field(default_factory=dict)
    handler_settings: dict[str, Any] = field(default_factory=dict)
    """The worker's ``[handler]`` keys besides the name (batch_size, batch_max_wait)."""

    @property
    def is_kit(self) -> bool:
        return self.kind.startswith("kit")

    def command(
        self,
        broker: Broker,
        queue: str,
        workdir: Path,
        *,
        prefetch: int | None,
        expect: int = 0,
        name: str | None = None,
        print_acks: bool = False,
    ) -> list[str]:
        """The child's argv; the kit's worker gets a TOML file written into ``workdir``."""
        name = name or self.kind
        if self.is_kit:
            config = kit_config(
                broker,
                queue,
                workdir,
                prefetch=prefetch,
                handler=self.handler,
                options=self.options,
                handler_settings=self.handler_settings,
                name=name,
            )
            return [str(BIN_DIR / "event-worker"), "--config", str(config)]
        argv = [
            sys.executable,
            "-m",
            "bench.clients",
            self.kind,
            "--url",
            broker.url,
            "--queue",
            queue,
            "--prefetch",
            str(prefetch or 1),
            "--expect",
            str(expect),
        ]
        if "work_seconds" in self.options:
            argv += ["--work-seconds", str(self.options["work_seconds"])]
        if print_acks:
            argv.append("--print-acks")
        return argv

    def start(
        self,
        broker: Broker,
        queue: str,
        workdir: Path,
        *,
        prefetch: int | None,
        expect: int,
        index: int = 1,
    ) -> ChildProcess:
        """Start one consumer whose output goes to ``workdir/<kind>-<index>.log``."""
        name = f"{self.kind}-{index}"
        argv = self.command(broker, queue, workdir, prefetch=prefetch, expect=expect, name=name)
        return ChildProcess(argv, workdir / f"{name}.log", (ACKED, DONE), cwd=REPO)

    def acked(self, process: ChildProcess, expect: int) -> int:
        """Messages this process has acked so far, as far as its output tells."""
        if self.is_kit:
            return process.count(ACKED)
        return expect if process.count(DONE) else 0


KIT = Consumer("kit", "kit worker")
# The worker's defaults for a batch handler: up to 100 events per call, 50 ms wait.
KIT_BATCH = Consumer("kit-batch", "kit worker, no-op batch handler", options={"batch": True})
PLAIN = Consumer("plain", "plain pika")
PLAIN_MULTI = Consumer("plain-multi", "plain pika, ack every 100 (multiple)")
AIO = Consumer("aio", "aio-pika")
AUTOACK = Consumer("autoack", "auto-ack ceiling (no acks)")
