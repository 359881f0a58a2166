"""Fixtures: one private RabbitMQ node per session, one fresh vhost per test, worker processes.

Set EVENT_WORKER_SKIP_BROKER_TESTS=1 to run only the tests that need no broker.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from rabbit_broker import RabbitBroker
from support import Vhost, WorkerProcess
from topology import (
    TUTORIAL_QUEUES,
    TUTORIAL_ROUTES,
    WORKER_PASSWORD,
    WORKER_USER,
    create_vhost,
    declare_route,
    declare_work_queue,
)

_vhost_numbers = itertools.count(1)

# pika logs every refused connection attempt while the broker boots; the tests report failures.
logging.getLogger("pika").setLevel(logging.CRITICAL)

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitBroker]:
    if os.environ.get("EVENT_WORKER_SKIP_BROKER_TESTS") == "1":
        pytest.skip("EVENT_WORKER_SKIP_BROKER_TESTS=1")
    node = RabbitBroker(tmp_path_factory.mktemp("rabbitmq"))
    try:
        node.start()
        node.ctl("add_user", WORKER_USER, WORKER_PASSWORD)
        yield node
    finally:
        node.close()


@pytest.fixture
def vhost(broker: RabbitBroker, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Vhost]:
    """A fresh vhost with the tutorial's topology (both work queues, exchanges, policies)."""
    if not broker.running:  # a failed restart test must not take every later test with it
        broker.start()
    name = f"t{next(_vhost_numbers)}-{request.node.name[:40]}"
    create_vhost(broker, name, TUTORIAL_QUEUES, tmp_path)
    host = Vhost(broker, name, tmp_path)
    channel = host.channel
    for queue in TUTORIAL_QUEUES:
        declare_work_queue(channel, queue)
    for route in TUTORIAL_ROUTES:
        declare_route(channel, route)
    channel.close()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def start_worker() -> Iterator[StartWorker]:
    """Start ``event-worker`` subprocesses; every one still running is stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(
        config: Path, env: Mapping[str, str] | None = None, *, ready: bool = True
    ) -> WorkerProcess:
        worker = WorkerProcess(config, env)
        started.append(worker)
        if ready:
            worker.wait_for_line("Worker started. Waiting for events...", timeout=20)
        return worker

    yield start
    for worker in started:
        worker.stop()
