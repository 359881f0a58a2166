"""Running the handler on one delivery (pool threads), and carrying results back to the I/O
thread in batches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from event_worker.consumer import ConsumerSession, Delivery
from event_worker.decoding import InvalidEvent, decode_event_body, event_id_of
from event_worker.errors import PermanentError
from event_worker.handlers.base import Event, Handler
from event_worker.policy import (
    Failed,
    Outcome,
    Rejected,
    Succeeded,
    original_routing_key,
    read_retry_count,
)

LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class Handled:
    """What happened to one delivery on a pool thread."""

    outcome: Outcome
    event_id: str | None
    routing_key: str
    """The original routing key (kept across retries)."""
    retry_count: int
    """Retries done before this attempt."""
    duration: float


def handle_delivery(handler: Handler, delivery: Delivery, max_body_bytes: int) -> Handled:
    """Decode the body and call the handler; never raises."""
    started = time.monotonic()
    properties = delivery.properties
    headers = properties.headers
    retry_count = read_retry_count(headers)
    routing_key = original_routing_key(headers, delivery.routing_key)
    event_id: str | None = properties.message_id or None
    outcome: Outcome
    try:
        body = decode_event_body(delivery.body, max_body_bytes, handler.required_fields)
        event_id = event_id_of(body, properties.message_id)
        handler.handle(
            Event(
                body=body,
                routing_key=routing_key,
                event_id=event_id,
                retry_count=retry_count,
                redelivered=delivery.redelivered,
            )
        )
        outcome = Succeeded()
    except InvalidEvent as exc:
        outcome = Rejected(exc.kind, exc.reason)
    except PermanentError as exc:
        outcome = Failed(type(exc).__name__, str(exc), permanent=True)
        LOG.warning("Event %s failed permanently: %s", event_id, outcome.text)
    except BaseException as exc:  # any other handler failure is retried
        outcome = Failed(type(exc).__name__, str(exc), permanent=False)
        LOG.warning("Event %s failed: %s", event_id, outcome.text)
        LOG.debug("Handler traceback", exc_info=True)
    return Handled(outcome, event_id, routing_key, retry_count, time.monotonic() - started)


@dataclass(slots=True)
class Completion:
    session: ConsumerSession
    delivery: Delivery
    handled: Handled


class CompletionInbox:
    """Collects results from pool threads; at most one drain callback is pending at a time."""

    def __init__(self, schedule: Callable[[Callable[[], None]], None]) -> None:
        self._schedule = schedule
        self._lock = threading.Lock()
        self._items: list[Completion] = []
        self._scheduled = False
        self.on_batch: Callable[[list[Completion]], None] = lambda _items: None

    def put(self, item: Completion) -> None:
        """Called from pool threads."""
        with self._lock:
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        self._schedule(self._drain)

    def _drain(self) -> None:
        """Runs on the I/O thread."""
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        self.on_batch(items)
