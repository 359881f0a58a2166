"""``noop``: accepts every JSON object and does nothing (for throughput benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

from event_worker.handlers.base import Event
from event_worker.tomltable import Table


class NoopHandler:
    required_fields: tuple[str, ...] = ()

    def handle(self, event: Event) -> None:
        del event


@dataclass(frozen=True, slots=True)
class NoopOptions:
    def build(self) -> NoopHandler:
        return NoopHandler()


def parse_options(table: Table) -> NoopOptions:
    table.allow()
    table.finish()
    return NoopOptions()
