"""Filters that turn the role's topology variables into the full set of objects.

Kept in Python so the rules are unit-tested (tests/unit) and read in one place:
- every worker queue gets a dead-letter exchange/queue and a retry exchange/queue,
  attached by policies (so they can change later without recreating the queue);
- bindings must name exchanges and queues the topology declares (or amq.* built-ins);
- a live queue whose immutable properties differ from the wanted ones is drift, reported
  with the property, both values and how to migrate, never "fixed" by deleting it.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

BUILTIN_EXCHANGES = {
    "",
    "amq.direct",
    "amq.fanout",
    "amq.headers",
    "amq.match",
    "amq.topic",
    "amq.rabbitmq.trace",
}
# Arguments that RabbitMQ shows on a queue but that the `type` comparison covers.
TYPE_ARGUMENT = "x-queue-type"

MIGRATION_HINT = (
    "A queue's type, durability and arguments cannot change while it exists, and the kit never "
    "deletes a queue holding messages. To migrate: declare a new queue with the wanted properties "
    "(a new name), bind it next to the old one, point the workers at it, let them drain the old "
    "queue (or move its messages with a shovel), then delete the old queue and, if you want the old "
    "name back, repeat. Or, if the old queue may be discarded, delete it "
    "(rabbitmqadmin delete queue name=...) and run the play again. Nothing was changed."
)


def _queue(spec: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    queue_type = spec.get("type") or settings["default_queue_type"]
    durable = spec.get("durable", True)
    if queue_type == "quorum" and not durable:
        raise AnsibleFilterError(
            f"rabbitmq_topology_queues: queue '{spec['name']}' is a quorum queue, which must be "
            "durable; remove 'durable: false' or use type classic."
        )
    arguments = dict(spec.get("arguments") or {})
    if TYPE_ARGUMENT in arguments:
        raise AnsibleFilterError(
            f"rabbitmq_topology_queues: queue '{spec['name']}': set the queue type with the 'type' "
            f"key, not the '{TYPE_ARGUMENT}' argument."
        )
    if queue_type == "quorum":
        arguments[TYPE_ARGUMENT] = "quorum"
    return {
        "name": spec["name"],
        "vhost": spec.get("vhost") or settings["vhost"],
        "type": queue_type,
        "durable": durable,
        "arguments": arguments,
    }


def _policy_name(prefix: str, queue: str) -> str:
    return f"{prefix}.{queue}"


def expand(
    exchanges: list[dict[str, Any]],
    queues: list[dict[str, Any]],
    bindings: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    settings: dict[str, Any],
) -> dict[str, list[dict[str, Any]]]:
    """Return every vhost, exchange, queue, binding and policy to declare."""
    vhost = settings["vhost"]
    out_exchanges = [
        {
            "name": e["name"],
            "vhost": e.get("vhost") or vhost,
            "type": e["type"],
            "durable": e.get("durable", True),
            "arguments": dict(e.get("arguments") or {}),
        }
        for e in exchanges
    ]
    out_queues = []
    out_bindings = [
        {
            "source": b["source"],
            "destination": b["destination"],
            "destination_type": b.get("destination_type") or "queue",
            "routing_key": b.get("routing_key") or "",
            "arguments": dict(b.get("arguments") or {}),
            "vhost": b.get("vhost") or vhost,
        }
        for b in bindings
    ]
    out_policies = [
        {
            "name": p["name"],
            "vhost": p.get("vhost") or vhost,
            "pattern": p["pattern"],
            "apply_to": p.get("apply_to") or "queues",
            "priority": p.get("priority", 0),
            "definition": dict(p["definition"]),
        }
        for p in policies
    ]

    for spec in queues:
        queue = _queue(spec, settings)
        out_queues.append(queue)
        if not spec.get("dead_letter", True):
            continue
        name, qvhost = queue["name"], queue["vhost"]
        dlx, dlq, retry = f"{name}.dlx", f"{name}.dlq", f"{name}.retry"
        side = {"type": queue["type"], "durable": True, "vhost": qvhost}
        out_exchanges += [
            {"name": dlx, "vhost": qvhost, "type": "fanout", "durable": True, "arguments": {}},
            {"name": retry, "vhost": qvhost, "type": "fanout", "durable": True, "arguments": {}},
        ]
        out_queues += [_queue({"name": dlq, **side}, settings), _queue({"name": retry, **side}, settings)]
        out_bindings += [
            {
                "source": dlx,
                "destination": dlq,
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
                "vhost": qvhost,
            },
            {
                "source": retry,
                "destination": retry,
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
                "vhost": qvhost,
            },
        ]
        work_policy = {"dead-letter-exchange": dlx, **dict(spec.get("policy") or {})}
        if queue["type"] == "quorum" and settings.get("delivery_limit"):
            work_policy.setdefault("delivery-limit", settings["delivery_limit"])
        out_policies += [
            {
                "name": _policy_name("dead-letter", name),
                "vhost": qvhost,
                "pattern": f"^{re.escape(name)}$",
                "apply_to": "queues",
                "priority": settings["policy_priority"],
                "definition": work_policy,
            },
            {
                "name": _policy_name("retry", name),
                "vhost": qvhost,
                "pattern": f"^{re.escape(retry)}$",
                "apply_to": "queues",
                "priority": settings["policy_priority"],
                "definition": {
                    "message-ttl": spec.get("retry_delay_ms", settings["retry_delay_ms"]),
                    "dead-letter-exchange": "",
                    "dead-letter-routing-key": name,
                },
            },
        ]

    _check_unique("queue", out_queues)
    _check_unique("exchange", out_exchanges)
    _check_unique("policy", out_policies)
    _check_references(out_exchanges, out_queues, out_bindings)
    vhosts = sorted({vhost, *(o["vhost"] for o in out_exchanges + out_queues + out_policies)})
    return {
        "vhosts": vhosts,
        "exchanges": out_exchanges,
        "queues": out_queues,
        "bindings": out_bindings,
        "policies": out_policies,
    }


def _check_unique(kind: str, items: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    for item in items:
        key = (item["vhost"], item["name"])
        if key in seen:
            raise AnsibleFilterError(
                f"rabbitmq_topology: {kind} '{item['name']}' (vhost '{item['vhost']}') is declared twice"
                + (" (the kit derives NAME.dlx/.dlq/.retry for every worker queue)" if kind != "policy" else "")
            )
        seen.add(key)


def _check_references(
    exchanges: list[dict[str, Any]], queues: list[dict[str, Any]], bindings: list[dict[str, Any]]
) -> None:
    known_exchanges = {(e["vhost"], e["name"]) for e in exchanges}
    known_queues = {(q["vhost"], q["name"]) for q in queues}
    for b in bindings:
        where = f"binding {b['source']!r} -> {b['destination']!r} (vhost {b['vhost']!r})"
        if b["source"] not in BUILTIN_EXCHANGES and (b["vhost"], b["source"]) not in known_exchanges:
            raise AnsibleFilterError(
                f"rabbitmq_topology_bindings: {where}: source exchange {b['source']!r} is not declared "
                "in rabbitmq_topology_exchanges"
            )
        known = known_queues if b["destination_type"] == "queue" else known_exchanges
        if (b["vhost"], b["destination"]) not in known:
            listing = "rabbitmq_topology_queues" if b["destination_type"] == "queue" else "rabbitmq_topology_exchanges"
            raise AnsibleFilterError(
                f"rabbitmq_topology_bindings: {where}: destination {b['destination_type']} "
                f"{b['destination']!r} is not declared in {listing}"
            )


def drift(live: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> str:
    """Compare live queues (management API rows) with the wanted ones.

    Returns "" when they agree, else one sentence per difference and how to migrate.
    """
    by_key = {(q["vhost"], q["name"]): q for q in live}
    problems = []
    for queue in wanted:
        current = by_key.get((queue["vhost"], queue["name"]))
        if current is None:
            continue
        live_arguments = {k: v for k, v in (current.get("arguments") or {}).items() if k != TYPE_ARGUMENT}
        wanted_arguments = {k: v for k, v in queue["arguments"].items() if k != TYPE_ARGUMENT}
        differences = [
            ("type", current.get("type"), queue["type"]),
            ("durable", current.get("durable"), queue["durable"]),
            ("arguments", live_arguments, wanted_arguments),
        ]
        for prop, have, want in differences:
            if have != want:
                problems.append(
                    f"queue '{queue['name']}' (vhost '{queue['vhost']}'): {prop} is {have!r} on the broker "
                    f"but the topology wants {want!r}."
                )
    return " ".join([*problems, MIGRATION_HINT]) if problems else ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"rabbitmq_topology_expand": expand, "rabbitmq_topology_drift": drift}
