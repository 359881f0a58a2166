"""``orders`` (use case 1): order events routed through the ``events`` topic exchange.

Logs exactly what the tutorial's worker prints, then simulates ``work_seconds`` of I/O-bound work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from event_worker.handlers.base import Event
from event_worker.tomltable import Table

LOG = logging.getLogger(__name__)


class OrdersHandler:
    required_fields: tuple[str, ...] = ("order_id", "event")

    def __init__(self, work_seconds: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self._work_seconds = work_seconds
        self._sleep = sleep

    def handle(self, event: Event) -> None:
        LOG.info("[Worker] Received event: %s", event.body)
        LOG.info("[Worker] Processing event type: %s", event.body.get("event", "unknown"))
        self._sleep(self._work_seconds)
        LOG.info("[Worker] Event processed successfully")


@dataclass(frozen=True, slots=True)
class OrdersOptions:
    work_seconds: float = 2.0

    def build(self) -> OrdersHandler:
        return OrdersHandler(self.work_seconds)


def parse_options(table: Table) -> OrdersOptions:
    table.allow("work_seconds")
    options = OrdersOptions(work_seconds=table.number("work_seconds", 2.0, minimum=0.0))
    table.finish()
    return options
