"""The topology role against a real RabbitMQ node (a private one on loopback, testbed/rabbitnode.py).

Upgrading: a broker whose worker queues an earlier version of the kit declared with per-queue
policies (their arguments cannot change while they exist) converges without drift, without
touching those queues or their messages, while new worker queues get the dead-letter and retry
routes as arguments and share a few policies; both paths really retry and dead-letter.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pika
from support import ROOT, api, run_play

from testbed.rabbitnode import RabbitNode
from testbed.waiting import wait_until

SPEC = importlib.util.spec_from_file_location("topology_filter", ROOT / "plugins/module_utils/topology.py")
assert SPEC and SPEC.loader
topology = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(topology)

PLAY = """
- name: Converge the topology onto a private node
  hosts: localhost
  connection: local
  gather_facts: true
  become: false
  roles:
    - role: ROOT/roles/rabbitmq_topology
"""
RETRY_MS = 300
SETTINGS = {
    "vhost": "/",
    "default_queue_type": "classic",
    "retry_delay_ms": RETRY_MS,
    "delivery_limit": 20,
    "policy_priority": 10,
}
EXCHANGES = [{"name": "events", "type": "topic"}]
OLD = [{"name": "order.events"}]
NEW = [{"name": "audit.events"}]
BINDINGS = [
    {"source": "events", "destination": "order.events", "routing_key": "order.*"},
    {"source": "events", "destination": "audit.events", "routing_key": "#"},
]


def converge(node: RabbitNode, tmp_path: Path) -> str:
    """Run the role; return its PLAY RECAP line for localhost."""
    (tmp_path / "play.yml").write_text(PLAY.replace("ROOT", str(ROOT)))
    variables = {
        "rabbitmq_api_host": "127.0.0.1",
        "rabbitmq_api_port": node.http_port,
        "rabbitmq_api_user": "guest",
        "rabbitmq_api_password": "guest",
        "rabbitmq_topology_retry_delay_ms": RETRY_MS,
        "rabbitmq_topology_default_queue_type": "classic",
        "rabbitmq_topology_exchanges": EXCHANGES,
        "rabbitmq_topology_queues": OLD + NEW,
        "rabbitmq_topology_bindings": BINDINGS,
        "rabbitmq_topology_publishers": [],
        "ansible_python_interpreter": sys.executable,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    return next(line for line in run_play(tmp_path).splitlines() if line.startswith("localhost"))


def queue(node: RabbitNode, name: str) -> dict[str, Any]:
    return api(node, "GET", f"queues/%2F/{quote(name, safe='')}")  # type: ignore[no-any-return]


def arguments(node: RabbitNode, name: str) -> dict[str, Any]:
    """A queue's arguments as declared (some versions also list x-queue-type)."""
    return {k: v for k, v in queue(node, name)["arguments"].items() if k != "x-queue-type"}


def publish(node: RabbitNode, routing_key: str, body: bytes, exchange: str = "") -> None:
    with node.connect() as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(delivery_mode=2), mandatory=True)


def messages_in(node: RabbitNode, name: str) -> int:
    with node.connect() as connection:
        return connection.channel().queue_declare(name, passive=True).method.message_count  # type: ignore[no-any-return]


def reject_one(node: RabbitNode, name: str) -> None:
    with node.connect() as connection:
        channel = connection.channel()
        method, _, _ = channel.basic_get(name)
        assert method is not None, f"nothing to reject in {name}"
        channel.basic_nack(method.delivery_tag, requeue=False)


def test_an_upgraded_broker_keeps_old_queues_on_their_policies_and_new_ones_use_arguments(
    node: RabbitNode, tmp_path: Path
) -> None:
    # The broker as an earlier version left it: order.events with per-queue policies, one message waiting.
    old_rows = [
        {"name": n, "vhost": "/", "type": "classic", "durable": True, "arguments": {}}
        for n in ("order.events", "order.events.dlq", "order.events.retry")
    ]
    before = topology.expand(EXCHANGES, OLD, BINDINGS[:1], [], {**SETTINGS, "live_queues": old_rows})
    api(node, "POST", "definitions", topology.changes(before, {"/": api(node, "GET", "definitions/%2F")}))
    publish(node, "order.events", b"waiting since before the upgrade")

    assert "changed=1" in converge(node, tmp_path)

    assert messages_in(node, "order.events") == 1
    assert arguments(node, "order.events") == {}
    wait_until(lambda: queue(node, "order.events").get("policy") == "dead-letter.order.events", 30, interval=0.05)
    wait_until(lambda: queue(node, "order.events.retry").get("policy") == "retry.order.events", 30, interval=0.05)
    assert arguments(node, "audit.events") == {"x-dead-letter-exchange": "audit.events.dlx"}
    assert arguments(node, "audit.events.retry") == {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "audit.events",
    }
    wait_until(
        lambda: (queue(node, "audit.events.retry").get("policy") or "").startswith("topology.retry-delay."),
        30,
        interval=0.05,
    )
    assert queue(node, "audit.events").get("policy") is None

    # Both layouts really work: a retry comes back after the delay, a rejection is dead-lettered.
    for name in ("order.events", "audit.events"):
        publish(node, "", f"retry {name}".encode(), exchange=f"{name}.retry")
        wait_until(
            lambda name=name: messages_in(node, name) == (2 if name == "order.events" else 1),
            30,
            interval=0.05,
            what=f"the retry into {name}",
        )
        reject_one(node, name)
        wait_until(
            lambda name=name: messages_in(node, f"{name}.dlq") == 1,
            30,
            interval=0.05,
            what=f"the rejection into {name}.dlq",
        )

    # Nothing left to do: the second converge changes nothing.
    assert "changed=0" in converge(node, tmp_path)
