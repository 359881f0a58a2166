"""One private RabbitMQ node (testbed/rabbitnode.py) for every broker test of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import RabbitNode


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    broker = RabbitNode(tmp_path_factory.mktemp("rabbit"), management=True, log_level="warning")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
