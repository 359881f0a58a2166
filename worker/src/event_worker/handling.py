"""Running the handler on one delivery, or a batch handler on several (pool threads), and
carrying results back to the I/O thread in batches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from event_worker.consumer import ConsumerSession, Delivery
from event_worker.decoding import InvalidEvent, decode_event_body, event_id_of
from event_worker.errors import PermanentError
from event_worker.handlers.base import BatchHandler, Event, Handler
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


def decode(delivery: Delivery, max_body_bytes: int, required: tuple[str, ...]) -> Event | Handled:
    """The event in a delivery, or, when the body is poison, its (Rejected) result."""
    properties = delivery.properties
    headers = properties.headers
    retry_count = read_retry_count(headers)
    routing_key = original_routing_key(headers, delivery.routing_key)
    try:
        body = decode_event_body(delivery.body, max_body_bytes, required)
    except InvalidEvent as exc:
        event_id = properties.message_id or None
        return Handled(Rejected(exc.kind, exc.reason), event_id, routing_key, retry_count, 0.0)
    return Event(
        body=body,
        routing_key=routing_key,
        event_id=event_id_of(body, properties.message_id),
        retry_count=retry_count,
        redelivered=delivery.redelivered,
    )


def failure(event_id: str | None, exc: BaseException) -> Failed:
    """The outcome of a handler failure, logged as a warning."""
    if isinstance(exc, PermanentError):
        outcome = Failed(type(exc).__name__, str(exc), permanent=True)
        LOG.warning("Event %s failed permanently: %s", event_id, outcome.text)
        return outcome
    outcome = Failed(type(exc).__name__, str(exc), permanent=False)
    LOG.warning("Event %s failed: %s", event_id, outcome.text)
    return outcome


def handle_delivery(handler: Handler, delivery: Delivery, max_body_bytes: int) -> Handled:
    """Decode the body and call the handler; never raises."""
    started = time.monotonic()
    event = decode(delivery, max_body_bytes, handler.required_fields)
    if isinstance(event, Handled):
        event.duration = time.monotonic() - started
        return event
    outcome: Outcome
    try:
        handler.handle(event)
        outcome = Succeeded()
    except BaseException as exc:  # PermanentError dead-letters; any other failure is retried
        outcome = failure(event.event_id, exc)
        LOG.debug("Handler traceback", exc_info=True)
    return Handled(
        outcome, event.event_id, event.routing_key, event.retry_count, time.monotonic() - started
    )


def handle_batch(
    handler: BatchHandler, deliveries: Sequence[Delivery], max_body_bytes: int
) -> list[Handled]:
    """Decode every body, call the batch handler once with the valid events, and give each
    delivery its own result (in order); never raises."""
    started = time.monotonic()
    results: list[Handled | None] = []
    events: list[Event] = []
    for delivery in deliveries:
        decoded = decode(delivery, max_body_bytes, handler.required_fields)
        if isinstance(decoded, Handled):
            results.append(decoded)
        else:
            results.append(None)
            events.append(decoded)
    outcomes: list[Outcome] = []
    if events:
        try:
            returned = list(handler.handle_batch(events))
            if len(returned) != len(events):
                raise RuntimeError(
                    f"handle_batch returned {len(returned)} results for {len(events)} events"
                )
            outcomes = [
                Succeeded() if result is None else failure(event.event_id, result)
                for event, result in zip(events, returned, strict=True)
            ]
        except BaseException as exc:  # the whole batch failed with one error
            LOG.debug("Batch handler traceback", exc_info=True)
            outcomes = [failure(event.event_id, exc) for event in events]
    duration = time.monotonic() - started
    pending = iter(zip(events, outcomes, strict=True))
    handled: list[Handled] = []
    for rejected in results:
        if rejected is None:
            event, outcome = next(pending)
            handled.append(
                Handled(outcome, event.event_id, event.routing_key, event.retry_count, duration)
            )
        else:
            rejected.duration = duration
            handled.append(rejected)
    return handled


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

    def put(self, *items: Completion) -> None:
        """Called from pool threads."""
        with self._lock:
            self._items.extend(items)
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
