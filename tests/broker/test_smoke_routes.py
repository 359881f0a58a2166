"""The smoke role's routing proof (plugins/modules/rabbitmq_smoke_routes.py) against a real node.

In a sandbox copy of a vhost: each route's event is routed, or not, as the table says, the idle
queues give back exactly their events, and nothing reaches the copied vhost's own queues.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from support import api, run_play

from testbed.rabbitnode import RabbitNode

LIVE = "shop"
SANDBOX = "shop-smoke"
DEFINITIONS = {
    "vhosts": [{"name": LIVE}],
    "exchanges": [
        {"name": name, "vhost": LIVE, "type": kind, "durable": True, "auto_delete": False, "arguments": {}}
        for name, kind in (("events", "topic"), ("notifications", "direct"))
    ],
    "queues": [
        {"name": q, "vhost": LIVE, "durable": True, "auto_delete": False, "arguments": {}}
        for q in ("order.events", "whatsapp.notifications")
    ],
    "bindings": [
        {"source": "events", "vhost": LIVE, "destination": "order.events", "destination_type": "queue",
         "routing_key": "order.*", "arguments": {}},
        {"source": "notifications", "vhost": LIVE, "destination": "whatsapp.notifications",
         "destination_type": "queue", "routing_key": "whatsapp", "arguments": {}},
    ],
}  # fmt: skip
ROUTES = [
    {"exchange": "events", "routing_key": "order.created", "queue": "order.events"},
    {"exchange": "events", "routing_key": "order.updated", "queue": "order.events"},
    {"exchange": "events", "routing_key": "invoice.created", "queue": None},
    {"exchange": "notifications", "routing_key": "whatsapp", "queue": "whatsapp.notifications",
     "payload": {"phone": "+911234567890", "message": "Hello from RabbitMQ"}},
    {"exchange": "notifications", "routing_key": "sms", "queue": None},
]  # fmt: skip
PLAY = """
- name: Prove the routes in a sandbox copy
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Publish and fetch back
      armkit.rabbitmq.rabbitmq_smoke_routes:
        vhost: "{{ sandbox }}"
        copy_from: "{{ live }}"
        routes: "{{ routes }}"
        idle: [order.events, whatsapp.notifications]
        run: smoke-test-1
        api_url: "{{ url }}"
        api_user: guest
        api_password: guest
      register: proof

    - name: Show the result
      ansible.builtin.copy:
        content: "{{ proof | to_json }}"
        dest: "{{ playbook_dir }}/proof.json"
        mode: "0600"
"""


def depths(node: RabbitNode, vhost: str) -> dict[str, int]:
    """Each queue's message count, exact (AMQP), where the API's statistics lag."""
    with node.connect(vhost) as connection:
        channel = connection.channel()
        return {
            queue: channel.queue_declare(queue, passive=True).method.message_count
            for queue in ("order.events", "whatsapp.notifications")
        }


def prove(node: RabbitNode, tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "play.yml").write_text(PLAY)
    variables = {
        "sandbox": SANDBOX,
        "live": LIVE,
        "routes": ROUTES,
        "url": f"{node.http_url}/api",
        "ansible_python_interpreter": sys.executable,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    run_play(tmp_path)
    return json.loads((tmp_path / "proof.json").read_text())  # type: ignore[no-any-return]


def test_each_route_is_proven_in_the_sandbox_and_the_live_queues_get_nothing(node: RabbitNode, tmp_path: Path) -> None:
    api(node, "PUT", f"vhosts/{LIVE}", {})
    api(node, "PUT", f"permissions/{LIVE}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    api(node, "POST", "definitions", DEFINITIONS)

    proof = prove(node, tmp_path)

    assert [(r["routing_key"], r["routed"]) for r in proof["published"]] == [
        ("order.created", True),
        ("order.updated", True),
        ("invoice.created", False),
        ("whatsapp", True),
        ("sms", False),
    ]
    fetched = {f["queue"]: f["messages"] for f in proof["fetched"]}
    assert sorted(m["routing_key"] for m in fetched["order.events"]) == ["order.created", "order.updated"]
    whatsapp = json.loads(fetched["whatsapp.notifications"][0]["payload"])
    assert whatsapp == {
        "phone": "+911234567890",
        "message": "Hello from RabbitMQ",
        "event_id": "smoke-test-1/notifications/whatsapp",
    }
    assert proof["changed"] is False
    # The sandbox holds the copy, emptied by the fetch; the live vhost's queues got nothing.
    sandbox = {q["name"] for q in api(node, "GET", f"definitions/{SANDBOX}")["queues"]}
    assert sandbox == {"order.events", "whatsapp.notifications"}
    for vhost in (LIVE, SANDBOX):
        assert depths(node, vhost) == {"order.events": 0, "whatsapp.notifications": 0}, vhost
