"""Poison messages go to the dead-letter queue with a reason; the worker keeps consuming."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import StartWorker
from support import Vhost
from topology import ORDERS

pytestmark = pytest.mark.broker

POISON: list[tuple[str, bytes, str]] = [
    ("not-utf8", b"\xff\xfe{not utf-8", "invalid_utf8: 'utf-8' codec can't decode byte 0xff"),
    ("not-json", b"hello world", "invalid_json: Expecting value: line 1 column 1 (char 0)"),
    ("nan", b'{"order_id": NaN, "event": "order.created"}', "invalid_json: NaN is not JSON"),
    ("not-object", b"[1, 2, 3]", "not_an_object: expected a JSON object, got a JSON array"),
    ("missing-field", b'{"order_id": 5}', "missing_field: event"),
    ("oversize", b'{"order_id": 1, "event": "' + b"x" * 2048 + b'"}', "oversize: body is"),
]


def headers_of(message: tuple[Any, Any, bytes]) -> dict[str, Any]:
    return dict(message[1].headers or {})


def test_each_poison_input_is_dead_lettered_with_its_reason_and_the_worker_keeps_going(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    config = vhost.worker_config(overrides={"consumer": {"max_body_bytes": 1024}})
    worker = start_worker(config)

    for message_id, body, _reason in POISON:
        vhost.publish("events", "order.created", body, message_id=message_id)
    vhost.publish(
        "events", "order.created", {"order_id": 9, "event": "order.created"}, message_id="good"
    )

    acked = worker.wait_for_events(lambda e: e["outcome"] == "acked")
    assert acked[0]["event_id"] == "good"
    dead = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered", count=len(POISON))
    assert {e["event_id"] for e in dead} == {m for m, _b, _r in POISON}
    assert "[Worker] Received event: {'order_id': 9, 'event': 'order.created'}" in worker.snapshot()

    vhost.wait_for_messages(ORDERS.dead_letter_queue, len(POISON), timeout=10)
    messages = {m[1].message_id: m for m in vhost.drain(ORDERS.dead_letter_queue)}
    assert set(messages) == {m for m, _b, _r in POISON}
    for message_id, body, reason in POISON:
        _method, properties, dead_body = messages[message_id]
        headers = headers_of(messages[message_id])
        assert dead_body == body, "the original body is kept"
        assert headers["x-dead-letter-reason"].startswith(reason), headers
        assert headers["x-original-routing-key"] == "order.created"
        assert headers["x-original-exchange"] == "events"
        assert headers["x-original-queue"] == "order.events"
        assert properties.delivery_mode == 2
        assert properties.content_type == "application/json"
        assert "x-retry-count" not in headers, "poison is never retried"
    # Nothing left behind: no requeue loop, nothing in the retry queue.
    vhost.wait_until_settled("order.events")
    assert vhost.ready_count(ORDERS.retry_queue) == 0
    assert worker.process.poll() is None


def test_structured_log_line_names_the_dead_letter_reason(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config())
    vhost.publish("events", "order.created", b"{oops", message_id="bad-1")
    (event,) = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered")
    assert event["event_id"] == "bad-1"
    assert event["routing_key"] == "order.created"
    assert event["queue"] == "order.events"
    assert event["reason"].startswith("invalid_json: ")
    assert isinstance(event["duration_ms"], float)
    # The line is one JSON document, as journald will store it.
    line = next(line for line in worker.snapshot() if '"bad-1"' in line)
    assert json.loads(line) == event


def test_an_unroutable_dead_letter_publish_falls_back_to_reject_without_requeue(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    # Break the topology: the dead-letter exchange exists but routes nowhere, so the worker's
    # mandatory publish comes back.  The worker must not ack (the copy is lost) nor requeue
    # (poison loop): it rejects with requeue=False, handing the message to the queue's policy DLX.
    channel = vhost.channel
    channel.queue_unbind(ORDERS.dead_letter_queue, ORDERS.dead_letter_exchange)
    channel.exchange_declare("fallback.dlx", "fanout", durable=True)
    channel.queue_declare("fallback.dlq", durable=True)
    channel.queue_bind("fallback.dlq", "fallback.dlx")
    channel.close()
    vhost.broker.ctl(
        "set_policy", "-p", vhost.name, "--apply-to", "queues", "--priority", "1",
        "order.events.fallback", "^order\\.events$", '{"dead-letter-exchange":"fallback.dlx"}',
    )  # fmt: skip
    worker = start_worker(vhost.worker_config())

    vhost.publish("events", "order.created", b"not json", message_id="lost?")
    (event,) = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered")
    assert event["reason"].startswith("invalid_json: ")
    assert "returned unroutable" in event["reason"]
    assert "rejected to the queue's dead-letter exchange" in event["reason"]

    vhost.wait_for_messages("fallback.dlq", 1, timeout=10)
    ((_method, properties, body),) = vhost.drain("fallback.dlq")
    assert body == b"not json"
    assert properties.message_id == "lost?"
    assert properties.headers["x-death"][0]["reason"] == "rejected"
    vhost.wait_until_settled("order.events")

    vhost.publish("events", "order.created", {"order_id": 1, "event": "order.created"})
    worker.wait_for_events(lambda e: e["outcome"] == "acked")
