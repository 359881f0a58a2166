"""What a business handler sees and must provide.

Handlers never touch AMQP.  The worker decodes a delivery into an :class:`Event`, checks the
handler's ``required_fields`` and calls :meth:`Handler.handle` on a pool thread.  Returning means
success (the delivery is acked); raising :class:`~event_worker.errors.PermanentError` dead-letters
the event at once; any other exception sends it through the retry queue.  One handler instance
serves all pool threads at the same time, so ``handle`` must be thread-safe.

A handler that also has ``handle_batch`` (:class:`BatchHandler`) gets up to
``[handler] batch_size`` events at a time instead (one database transaction for many events),
and reports each event's outcome: ``None`` for success, or the exception it failed with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded event: the JSON object from the message body plus delivery facts."""

    body: dict[str, object]
    routing_key: str
    """The routing key the event was first published with (kept across retries)."""
    event_id: str | None
    """``event_id`` from the body, else the AMQP message_id, else None."""
    retry_count: int
    """How many times the event has already been retried (0 on the first attempt)."""
    redelivered: bool


class Handler(Protocol):
    """Business logic for one kind of event."""

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Top-level body fields without which the event is dead-lettered unprocessed."""
        ...

    def handle(self, event: Event) -> None:
        """Process one event; return on success, raise on failure."""
        ...


@runtime_checkable
class BatchHandler(Protocol):
    """Business logic that processes several events in one call."""

    @property
    def required_fields(self) -> tuple[str, ...]: ...

    def handle_batch(self, events: Sequence[Event]) -> Sequence[BaseException | None]:
        """One result per event, in order: None if it succeeded, else the exception it failed
        with (PermanentError dead-letters it, anything else retries it).  Raising fails every
        event of the batch with that exception."""
        ...


class HandlerOptions(Protocol):
    """Validated, immutable options of one handler, able to build the handler."""

    def build(self) -> Handler | BatchHandler:
        """Create the handler these options describe."""
        ...
