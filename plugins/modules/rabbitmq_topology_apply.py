#!/usr/bin/python
"""Apply a topology to RabbitMQ in one round trip (the rules: plugins/module_utils/topology.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rabbitmq_topology_apply
short_description: Declare a RabbitMQ topology in one definitions import
description:
  - Expands the topology variables into every object (each worker queue with its dead-letter
    and retry path), reads the live definitions of the vhosts once, refuses drift in existing
    queues and exchanges, imports what is missing or differs in one request and deletes the
    policies the kit derived and no longer uses.
  - Reports the live objects the topology does not declare (C(unmanaged)); never deletes them.
  - Runs on a host that reaches the management API (the role runs it on the broker).
options:
  exchanges: {description: Exchanges as in rabbitmq_topology_exchanges., type: list, elements: dict, default: []}
  queues: {description: Queues as in rabbitmq_topology_queues., type: list, elements: dict, default: []}
  bindings: {description: Bindings as in rabbitmq_topology_bindings., type: list, elements: dict, default: []}
  policies: {description: Policies as in rabbitmq_topology_policies., type: list, elements: dict, default: []}
  settings:
    description:
      - vhost, default_queue_type (classic, quorum, or auto for quorum on a cluster of two or
        more nodes), retry_delay_ms, delivery_limit, policy_priority.
    type: dict
    required: true
  timeout:
    description: Seconds to wait for the import (the broker answers once every object exists).
    type: int
    default: 600
extends_documentation_fragment: [armkit.rabbitmq.management_api]
author: RabbitMQ-on-Arm deployment kit developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Declare the tutorial's topology
  armkit.rabbitmq.rabbitmq_topology_apply:
    exchanges: [{name: events, type: topic}]
    queues: [{name: order.events}]
    bindings: [{source: events, destination: order.events, routing_key: order.*}]
    settings: {vhost: /, default_queue_type: auto, retry_delay_ms: 5000, delivery_limit: 5, policy_priority: 10}
    api_url: http://localhost:15672/api
    api_user: admin
    api_password: "{{ rabbitmq_server_admin_password }}"
"""

RETURN = r"""
queue_type:
  description: The type of queues that set none (auto resolved).
  type: str
  returned: always
declared:
  description: Names imported (or, in check mode, to import), by kind.
  type: dict
  returned: always
retired:
  description: Derived policies deleted (or, in check mode, to delete).
  type: list
  elements: str
  returned: always
unmanaged:
  description: 'Live objects not declared: kind, vhost, name, path (for deleting).'
  type: list
  elements: dict
  returned: always
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.armkit.rabbitmq.plugins.module_utils.management_api import OPTIONS, Api, path
from ansible_collections.armkit.rabbitmq.plugins.module_utils.topology import (
    TopologyError,
    expand,
    live,
    live_queues,
    plan,
)


def queue_type(api: Api, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    nodes = api.expect("GET", "nodes?columns=name", (200,))
    return "quorum" if len(nodes) > 1 else "classic"


def prepared(declared: dict[str, list[str]], gone: list[dict[str, Any]]) -> str:
    """What the run adds or updates, a line per object, for --diff."""
    lines = [
        f"+ {kind[:-1] if kind != 'policies' else 'policy'} {name}"
        for kind, names in declared.items()
        for name in names
    ]
    return "\n".join([*lines, *(f"- policy {p['name']} (vhost {p['vhost']}, retired)" for p in gone)]) + "\n"


def run(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    api = Api(module)
    settings = {**params["settings"], "default_queue_type": queue_type(api, params["settings"]["default_queue_type"])}
    objects = (params["exchanges"], params["queues"], params["bindings"], params["policies"])
    vhosts = expand(*objects, settings)["vhosts"]
    current = live(
        [
            {"item": vhost, "status": status, "json": answer}
            for vhost in vhosts
            for status, answer in [api.call("GET", f"definitions/{path(vhost)}")]
        ]
    )
    wanted = expand(*objects, {**settings, "live_queues": live_queues(current)})
    steps = plan(wanted, current)
    if steps["drift"]:
        module.fail_json(msg=steps["drift"])
    document, gone = steps["changes"], steps["retired"]
    declared = {
        kind: [
            o["name"] if kind != "bindings" else f"{o['source']} -> {o['destination']} ({o['routing_key']})"
            for o in items
        ]
        for kind, items in document.items()
        if items
    }
    if not module.check_mode:
        if declared:
            api.expect("POST", "definitions", (200, 201, 204), document, params["timeout"])
        for policy in gone:
            api.expect("DELETE", policy["path"], (204, 404))
    result: dict[str, Any] = {
        "changed": bool(declared or gone),
        "queue_type": settings["default_queue_type"],
        "declared": declared,
        "retired": [p["name"] for p in gone],
        "unmanaged": steps["unmanaged"],
    }
    if module._diff and result["changed"]:
        result["diff"] = {"prepared": prepared(declared, gone)}
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "exchanges": {"type": "list", "elements": "dict", "default": []},
            "queues": {"type": "list", "elements": "dict", "default": []},
            "bindings": {"type": "list", "elements": "dict", "default": []},
            "policies": {"type": "list", "elements": "dict", "default": []},
            "settings": {"type": "dict", "required": True},
            **OPTIONS,
            "timeout": {"type": "int", "default": 600},
        },
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except TopologyError as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
