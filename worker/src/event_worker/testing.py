"""Test a handler without a broker: what the worker would do with one event.

    from event_worker.testing import run_handler

    result = run_handler("my_pkg.invoices:handle", {"invoice_id": 7, "amount": 12.5})
    assert result.action == "ack"

The event goes through the worker's own code: body decoding and ``required_fields``, the
handler's option parser, the call, and the retry/dead-letter decision.  Only AMQP is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pika

from event_worker.consumer import Delivery
from event_worker.handlers import BatchHandler, Handler, parse_handler_options
from event_worker.handling import Handled, handle_batch, handle_delivery
from event_worker.policy import RETRY_COUNT, DeadLetter, Retry, decide
from event_worker.tomltable import Table

Action = Literal["ack", "retry", "dead-letter"]


@dataclass(frozen=True, slots=True)
class HandlerResult:
    action: Action
    """What the worker does with the delivery: ack it, send it to the retry queue, or
    dead-letter it."""
    reason: str
    """Empty on ack; the error on retry; the ``x-dead-letter-reason`` header on dead-letter."""


def build_handler(name: str, options: Mapping[str, object] | None = None) -> Handler | BatchHandler:
    """The handler a worker with ``[handler] name`` and these ``[handler.options]`` runs.

    Raises :class:`~event_worker.errors.ConfigError` as ``event-worker --check-config`` would.
    """
    return parse_handler_options(name, Table(dict(options or {}), "handler.options")).build()


def _delivery(body: Mapping[str, object] | bytes, routing_key: str, retry_count: int) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery(
        tag=1,
        exchange="events",
        routing_key=routing_key,
        redelivered=False,
        properties=pika.BasicProperties(
            content_type="application/json", headers={RETRY_COUNT: retry_count}
        ),
        body=raw,
    )


def _result(handled: Handled, retry_limit: int) -> HandlerResult:
    decision = decide(handled.outcome, handled.retry_count, retry_limit)
    if isinstance(decision, Retry):
        return HandlerResult("retry", decision.last_error)
    if isinstance(decision, DeadLetter):
        return HandlerResult("dead-letter", decision.reason)
    return HandlerResult("ack", "")


def run_batch(
    handler: str | Handler | BatchHandler,
    bodies: Sequence[Mapping[str, object] | bytes],
    *,
    options: Mapping[str, object] | None = None,
    routing_key: str = "test",
    retry_count: int = 0,
    retry_limit: int = 3,
    max_body_bytes: int = 1024 * 1024,
) -> list[HandlerResult]:
    """Run several events through ``handler``: one ``handle_batch`` call for a batch handler,
    one call per event otherwise.  One result per body, in order."""
    built = build_handler(handler, options) if isinstance(handler, str) else handler
    deliveries = [_delivery(body, routing_key, retry_count) for body in bodies]
    if isinstance(built, BatchHandler):
        handled = handle_batch(built, deliveries, max_body_bytes)
    else:
        handled = [handle_delivery(built, delivery, max_body_bytes) for delivery in deliveries]
    return [_result(item, retry_limit) for item in handled]


def run_handler(
    handler: str | Handler | BatchHandler,
    body: Mapping[str, object] | bytes,
    *,
    options: Mapping[str, object] | None = None,
    routing_key: str = "test",
    retry_count: int = 0,
    retry_limit: int = 3,
    max_body_bytes: int = 1024 * 1024,
) -> HandlerResult:
    """Run one event through ``handler`` (a handler name/reference, or a built handler)."""
    (result,) = run_batch(
        handler,
        [body],
        options=options,
        routing_key=routing_key,
        retry_count=retry_count,
        retry_limit=retry_limit,
        max_body_bytes=max_body_bytes,
    )
    return result
