"""``noop``: accepts every JSON object and does nothing (for throughput benchmarks).

``batch = true`` makes it a batch handler (events in lists of up to ``[handler] batch_size``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from event_worker.handlers.base import BatchHandler, Event, Handler
from event_worker.tomltable import Table


class NoopHandler:
    required_fields: tuple[str, ...] = ()

    def handle(self, event: Event) -> None:
        del event


class NoopBatchHandler:
    required_fields: tuple[str, ...] = ()

    def handle_batch(self, events: Sequence[Event]) -> Sequence[BaseException | None]:
        return [None] * len(events)


@dataclass(frozen=True, slots=True)
class NoopOptions:
    batch: bool = False

    def build(self) -> Handler | BatchHandler:
        return NoopBatchHandler() if self.batch else NoopHandler()


def parse_options(table: Table) -> NoopOptions:
    table.allow("batch")
    options = NoopOptions(batch=table.boolean("batch", False))
    table.finish()
    return options
