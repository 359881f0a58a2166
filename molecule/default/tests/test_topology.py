"""The topology declared by the rabbitmq_topology role: exactly the tutorial's, plus dead-lettering."""

import json

import pytest
from kit_testing import wait_until

EXCHANGES = {
    "events": "topic",
    "notifications": "direct",
    "order.events.dlx": "fanout",
    "order.events.retry": "fanout",
    "whatsapp.notifications.dlx": "fanout",
    "whatsapp.notifications.retry": "fanout",
    "payment.events.dlx": "fanout",
    "payment.events.retry": "fanout",
}
WORK_QUEUES = ["order.events", "whatsapp.notifications", "payment.events"]


def test_exchanges_are_durable_with_their_types(admin):
    live = {e["name"]: e for e in admin.json("list exchanges") if e["vhost"] == "/"}
    for name, kind in EXCHANGES.items():
        assert live[name]["type"] == kind, name
        assert live[name]["durable"] is True, name


def declared_arguments(row):
    # RabbitMQ 4 records the type as an argument too.
    return {k: v for k, v in row["arguments"].items() if k != "x-queue-type"}


@pytest.mark.parametrize("queue", WORK_QUEUES)
def test_work_queue_is_durable_classic_and_dead_letters_to_its_dlx(admin, queue):
    live = {q["name"]: q for q in admin.json("list queues")}
    assert live[queue]["durable"] is True
    assert live[queue]["type"] == "classic"
    # What follows from the name is fixed at declaration; no per-queue policy.
    assert declared_arguments(live[queue]) == {"x-dead-letter-exchange": f"{queue}.dlx"}
    assert not live[queue].get("policy")
    for side in ("dlq", "retry"):
        assert live[f"{queue}.{side}"]["durable"] is True


def test_retry_queues_route_back_and_share_the_retry_delay_policy(admin):
    live = {q["name"]: q for q in admin.json("list queues")}
    policies = {p["name"]: p for p in admin.json("list policies")}
    for queue in WORK_QUEUES:
        retry = live[f"{queue}.retry"]
        assert declared_arguments(retry) == {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue}
        assert retry["policy"].startswith("topology.retry-delay."), retry.get("policy")
        assert policies[retry["policy"]]["definition"] == {"message-ttl": 5000}
        assert policies[retry["policy"]]["apply-to"] == "queues"
    # A few shared policies, none per queue.
    assert not [name for name in policies if name.startswith(("dead-letter.", "retry."))]


def test_bindings_are_exactly_the_tutorials_and_the_examples(admin):
    bindings = {
        (b["source"], b["destination"], b["routing_key"])
        for b in admin.json("list bindings")
        if b["source"] in ("events", "notifications")
    }
    assert bindings == {
        ("events", "order.events", "order.*"),
        ("notifications", "whatsapp.notifications", "whatsapp"),
        ("events", "payment.events", "payment.*"),  # the example handler package's queue
    }


ROUTES = [
    ("events", "order.created", "order.events"),
    ("events", "order.updated", "order.events"),
    ("events", "order.completed", "order.events"),
    ("events", "order.cancelled", "order.events"),
    ("events", "order.created.v2", None),
    ("events", "invoice.created", None),
    ("events", "order", None),
    ("notifications", "whatsapp", "whatsapp.notifications"),
    ("notifications", "sms", None),
]


@pytest.mark.parametrize(("exchange", "key", "queue"), ROUTES)
def test_routing_table(admin, paused_workers, exchange, key, queue):
    before = {q: admin.depth(q) for q in WORK_QUEUES}
    out = admin.publish(exchange, key, {"order_id": 123, "event": key, "event_id": f"routing-{key}"})
    if queue is None:
        assert out == "Message published but NOT routed"
        assert {q: admin.depth(q) for q in WORK_QUEUES} == before
        return
    assert out == "Message published"
    messages = admin.get(queue)
    assert [m["routing_key"] for m in messages] == [key]
    assert json.loads(messages[0]["payload"])["event_id"] == f"routing-{key}"
    assert {q: admin.depth(q) for q in WORK_QUEUES} == before


@pytest.mark.parametrize("queue", WORK_QUEUES)
def test_rejected_message_is_dead_lettered(admin, paused_workers, queue):
    admin.run(f"publish exchange=amq.default routing_key={queue} payload='poison-{queue}'")
    admin.get(queue, ackmode="reject_requeue_false")
    dead = wait_until(lambda: admin.get(f"{queue}.dlq"), timeout=30, what=f"a message in {queue}.dlq")
    assert dead[0]["payload"] == f"poison-{queue}"


def test_retry_queue_delivers_back_after_its_ttl(admin, paused_workers):
    admin.publish("order.events.retry", "order.created", {"event_id": "retry-probe"})
    back = wait_until(lambda: admin.get("order.events"), timeout=30, what="the retried message")
    assert json.loads(back[0]["payload"])["event_id"] == "retry-probe"
