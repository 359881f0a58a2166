#!/usr/bin/python
"""Publish a routing table's events and fetch them back, in one module run (the smoke role)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rabbitmq_smoke_routes
short_description: Prove a routing table with real messages through the management API
description:
  - Optionally (re)creates I(vhost) as a copy of I(copy_from) (its exchanges, queues, bindings and
    policies; no runtime parameters), where no worker consumes.
  - Publishes one persistent JSON event per route (the API reports whether it was routed), then
    fetches the events back from the I(idle) queues, one more than expected so a stray message
    would show. Each event carries C(event_id) and C(message_id) C(RUN/EXCHANGE/ROUTING_KEY).
  - Leaves the sandbox vhost in place (the caller deletes it after its other checks); changes
    nothing else, so it reports C(changed=false).
options:
  vhost: {description: Where to publish., type: str, required: true}
  copy_from: {description: Recreate I(vhost) as a copy of this vhost first., type: str}
  routes:
    description:
      - 'exchange, routing_key, queue (none when the event must not be routed) and an optional
        payload (a dict; default C({"order_id": 123, "event": ROUTING_KEY})).'
    type: list
    elements: dict
    required: true
  idle:
    description: Queues to fetch the events back from (no consumer, no message).
    type: list
    elements: str
    default: []
  run: {description: "This smoke run's name, the prefix of every event id.", type: str, required: true}
extends_documentation_fragment: [armkit.rabbitmq.management_api]
author: RabbitMQ-on-Arm deployment kit developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Prove the tutorial's routing in a sandbox copy of /
  armkit.rabbitmq.rabbitmq_smoke_routes:
    vhost: kit-smoke
    copy_from: /
    routes:
      - {exchange: events, routing_key: order.created, queue: order.events}
      - {exchange: events, routing_key: invoice.created, queue: null}
    idle: [order.events]
    run: smoke-1
    api_url: http://127.0.0.1:15672/api
    api_user: admin
    api_password: "{{ rabbitmq_server_admin_password }}"
"""

RETURN = r"""
published:
  description: Each route with C(routed), as the broker answered.
  type: list
  elements: dict
  returned: always
fetched:
  description: Per idle queue, C(queue) and the C(messages) fetched (routing_key, payload).
  type: list
  elements: dict
  returned: always
"""

import json
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.armkit.rabbitmq.plugins.module_utils.management_api import OPTIONS, Api, path

COPIED = ("exchanges", "queues", "bindings", "policies")


def sandbox(api: Api, vhost: str, source: str, user: str) -> None:
    """vhost, empty, then holding source's exchanges, queues, bindings and policies."""
    api.expect("DELETE", f"vhosts/{path(vhost)}", (204, 404))
    description = f"kit smoke test sandbox: a copy of {source}, deleted after the test"
    api.expect("PUT", f"vhosts/{path(vhost)}", (201, 204), {"description": description})
    api.expect("PUT", f"permissions/{path(vhost, user)}", (201, 204), {"configure": ".*", "write": ".*", "read": ".*"})
    export = api.expect("GET", f"definitions/{path(source)}", (200,))
    api.expect("POST", f"definitions/{path(vhost)}", (200, 201, 204), {kind: export.get(kind, []) for kind in COPIED})


def publish(api: Api, vhost: str, route: dict[str, Any], run: str) -> dict[str, Any]:
    event_id = f"{run}/{route['exchange']}/{route['routing_key']}"
    payload = {**(route.get("payload") or {"order_id": 123, "event": route["routing_key"]}), "event_id": event_id}
    answer = api.expect(
        "POST",
        f"exchanges/{path(vhost, route['exchange'])}/publish",
        (200,),
        {
            "routing_key": route["routing_key"],
            "payload": json.dumps(payload),
            "payload_encoding": "string",
            "properties": {"delivery_mode": 2, "content_type": "application/json", "message_id": event_id},
        },
    )
    return {**route, "routed": answer["routed"]}


def fetch(api: Api, vhost: str, queue: str, expected: int) -> dict[str, Any]:
    answer = api.expect(
        "POST",
        f"queues/{path(vhost, queue)}/get",
        (200,),
        {"count": expected + 1, "ackmode": "ack_requeue_false", "encoding": "auto"},
    )
    return {"queue": queue, "messages": [{"routing_key": m["routing_key"], "payload": m["payload"]} for m in answer]}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vhost": {"type": "str", "required": True},
            "copy_from": {"type": "str"},
            "routes": {"type": "list", "elements": "dict", "required": True},
            "idle": {"type": "list", "elements": "str", "default": []},
            "run": {"type": "str", "required": True},
            **OPTIONS,
        },
        supports_check_mode=False,
    )
    params = module.params
    api = Api(module)
    if params["copy_from"] is not None:
        sandbox(api, params["vhost"], params["copy_from"], params["api_user"])
    published = [publish(api, params["vhost"], route, params["run"]) for route in params["routes"]]
    targets = [route.get("queue") for route in params["routes"]]
    fetched = [
        fetch(api, params["vhost"], queue, targets.count(queue))
        for queue in dict.fromkeys(targets)
        if queue and queue in params["idle"]
    ]
    module.exit_json(changed=False, published=published, fetched=fetched)


if __name__ == "__main__":
    main()
