"""The tutorial's two use cases, end to end through the real exchanges and a worker process."""

from __future__ import annotations

import pika.exceptions
import pytest

from conftest import StartWorker
from support import Vhost
from topology import WHATSAPP

pytestmark = pytest.mark.broker


def test_order_events_route_through_topic_exchange_and_log_the_tutorial_lines(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    # prefetch 1, like the tutorial, so the two events' lines do not interleave.
    config = vhost.worker_config(
        options={"work_seconds": 0.05}, overrides={"consumer": {"prefetch": 1}}
    )
    worker = start_worker(config)

    vhost.publish("events", "order.created", '{"order_id":123,"event":"order.created"}')
    vhost.publish("events", "order.updated", '{"order_id":123,"event":"order.updated"}')
    events = worker.wait_for_events(lambda e: e["outcome"] == "acked", count=2)

    lines = worker.snapshot()
    start = lines.index("[Worker] Received event: {'order_id': 123, 'event': 'order.created'}")
    assert lines[start : start + 3] == [
        "[Worker] Received event: {'order_id': 123, 'event': 'order.created'}",
        "[Worker] Processing event type: order.created",
        "[Worker] Event processed successfully",
    ]
    assert "[Worker] Received event: {'order_id': 123, 'event': 'order.updated'}" in lines
    assert "[Worker] Processing event type: order.updated" in lines
    assert [e["routing_key"] for e in events] == ["order.created", "order.updated"]
    assert all(e["queue"] == "order.events" for e in events)
    # Published like the tutorial (no message_id, no event_id in the body): no identity.
    assert all(e["event_id"] is None for e in events)
    vhost.wait_until_settled("order.events")


def test_routing_keys_outside_the_binding_do_not_reach_the_worker(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config())
    channel = vhost.channel
    channel.confirm_delivery()
    # "order.*" matches exactly one word after "order."; mandatory publishes come back.
    for key in ("order.created.late", "invoice.created"):
        with pytest.raises(pika.exceptions.UnroutableError):
            channel.basic_publish("events", key, b'{"order_id":1,"event":"x"}', mandatory=True)
    channel.close()
    vhost.publish("events", "order.completed", '{"order_id":7,"event":"order.completed"}')
    (event,) = worker.wait_for_events(lambda e: e["outcome"] == "acked")
    assert event["routing_key"] == "order.completed"


def test_whatsapp_notifications_route_through_direct_exchange_and_log_the_tutorial_lines(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    config = vhost.worker_config(queue=WHATSAPP, handler="whatsapp", options={"work_seconds": 0.05})
    worker = start_worker(config)

    vhost.publish(
        "notifications",
        "whatsapp",
        '{"phone":"+911234567890","message":"Hello from RabbitMQ"}',
    )
    (event,) = worker.wait_for_events(lambda e: e["outcome"] == "acked")

    lines = worker.snapshot()
    start = lines.index("[Worker] Processing WhatsApp notification")
    assert lines[start : start + 4] == [
        "[Worker] Processing WhatsApp notification",
        "[Worker] Recipient: +911234567890",
        "[Worker] Message: Hello from RabbitMQ",
        "[Worker] WhatsApp notification sent successfully",
    ]
    assert event["routing_key"] == "whatsapp"
    assert event["queue"] == "whatsapp.notifications"
    vhost.wait_until_settled("whatsapp.notifications")


def test_event_id_from_the_body_is_used_in_the_event_log(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config())
    vhost.publish(
        "events",
        "order.created",
        {"event_id": "evt-42", "order_id": 42, "event": "order.created"},
        message_id="ignored-because-the-body-has-one",
    )
    vhost.publish("events", "order.created", {"order_id": 43, "event": "x"}, message_id="m-43")
    events = worker.wait_for_events(lambda e: e["outcome"] == "acked", count=2)
    assert [e["event_id"] for e in events] == ["evt-42", "m-43"]
