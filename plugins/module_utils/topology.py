"""The topology rules: the role's variables turned into the full set of objects, and the plan.

Used on the controller by the filters (plugins/filter/topology.py) and on the broker host by
the module that applies the plan (plugins/modules/rabbitmq_topology_apply.py). Kept in Python
so the rules are unit-tested (tests/unit) and read in one place:
- every worker queue gets a dead-letter exchange/queue and a retry exchange/queue; what follows
  from the names is fixed as queue arguments, what an operator tunes (retry delay, delivery
  limit) is set by a few shared policies: per-queue policies cost O(queues x policies) on the
  broker (bench/README.md); queues declared with per-queue policies by an earlier version keep
  them, since a live queue's arguments cannot change;
- bindings must name exchanges and queues the topology declares (or amq.* built-ins);
- a live queue whose immutable properties differ from the wanted ones is drift, reported
  with the property, both values and how to migrate, never "fixed" by deleting it;
- what to apply is the difference between the wanted objects and the live definitions,
  sent in one definitions import; live objects the topology does not declare are listed.
"""

from __future__ import annotations

import re
import zlib
from typing import Any
from urllib.parse import quote

from ansible_collections.armkit.rabbitmq.plugins.module_utils.queue_names import derived


class TopologyError(ValueError):
    """A topology the rules refuse (a bad reference, a duplicate) or a broker answer they cannot use."""


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
        raise TopologyError(
            f"rabbitmq_topology_queues: queue '{spec['name']}' is a quorum queue, which must be "
            "durable; remove 'durable: false' or use type classic."
        )
    arguments = dict(spec.get("arguments") or {})
    if TYPE_ARGUMENT in arguments:
        raise TopologyError(
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


# Shared policies hold each tuned value for many queues: their names go into one of a fixed
# number of patterns by a stable hash, so adding a queue changes one policy, and no pattern
# grows past what the broker's regex engine takes (about 1/16 of the names each).
SHARED_BUCKETS = 16
SHARED_PREFIX = "topology."
DEAD_LETTER = "x-dead-letter-exchange"
RETRY_ROUTE = "x-dead-letter-routing-key"


def _policy(
    name: str, vhost: str, pattern: str, definition: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "pattern": pattern,
        "apply_to": "queues",
        "priority": settings["policy_priority"],
        "definition": definition,
    }


def _shared(
    kind: str, members: dict[tuple[str, str], list[str]], definition: dict[str, Any], settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """One policy per non-empty (vhost, bucket): `topology.KIND.NN` matching exactly its queue names."""
    buckets: dict[tuple[str, int], list[str]] = {}
    for (vhost, _value), names in sorted(members.items()):
        for name in names:
            buckets.setdefault((vhost, zlib.crc32(name.encode()) % SHARED_BUCKETS), []).append(name)
    return [
        _policy(
            f"{SHARED_PREFIX}{kind}.{bucket:02d}",
            vhost,
            "^(" + "|".join(re.escape(n) for n in sorted(names)) + ")$",
            definition,
            settings,
        )
        for (vhost, bucket), names in sorted(buckets.items())
    ]


def _declared_without(live: dict[tuple[str, str], dict[str, Any]], vhost: str, name: str, argument: str) -> bool:
    """True for a live queue declared before the kit set `argument` at declaration."""
    current = live.get((vhost, name))
    return current is not None and argument not in (current.get("arguments") or {})


def expand(
    exchanges: list[dict[str, Any]],
    queues: list[dict[str, Any]],
    bindings: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    settings: dict[str, Any],
) -> dict[str, list[dict[str, Any]]]:
    """Return every vhost, exchange, queue, binding and policy to declare.

    settings["live_queues"] (optional): the queues that exist now (live_queues() rows), so a
    worker queue declared with per-queue policies keeps them.
    """
    vhost = settings["vhost"]
    live_queues = {(q["vhost"], q["name"]): q for q in settings.get("live_queues") or []}
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
    # (vhost, value) -> queue names sharing that tuned value
    shared_delay: dict[tuple[str, str], list[str]] = {}
    shared_limit: dict[tuple[str, str], list[str]] = {}

    for spec in queues:
        queue = _queue(spec, settings)
        out_queues.append(queue)
        if not spec.get("dead_letter", True):
            continue
        name, qvhost = queue["name"], queue["vhost"]
        names = derived(name)
        dlx, dlq = names["dead_letter_exchange"], names["dead_letter_queue"]
        retry_exchange, retry = names["retry_exchange"], names["retry_queue"]
        side = {"type": queue["type"], "durable": True, "vhost": qvhost}
        retry_queue = _queue({"name": retry, **side}, settings)
        out_exchanges += [
            {"name": dlx, "vhost": qvhost, "type": "fanout", "durable": True, "arguments": {}},
            {"name": retry_exchange, "vhost": qvhost, "type": "fanout", "durable": True, "arguments": {}},
        ]
        out_queues += [_queue({"name": dlq, **side}, settings), retry_queue]
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
                "source": retry_exchange,
                "destination": retry,
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
                "vhost": qvhost,
            },
        ]
        # The worker queue: dead-letters to NAME.dlx; quorum queues also get a delivery limit.
        work_policy = {"dead-letter-exchange": dlx, **dict(spec.get("policy") or {})}
        limit = settings.get("delivery_limit") if queue["type"] == "quorum" else None
        if limit:
            work_policy.setdefault("delivery-limit", limit)
        if _declared_without(live_queues, qvhost, name, DEAD_LETTER) or spec.get("policy"):
            if not _declared_without(live_queues, qvhost, name, DEAD_LETTER):
                queue["arguments"][DEAD_LETTER] = dlx
            out_policies.append(_policy(f"dead-letter.{name}", qvhost, f"^{re.escape(name)}$", work_policy, settings))
        else:
            queue["arguments"][DEAD_LETTER] = dlx
            if limit:
                shared_limit.setdefault((qvhost, str(limit)), []).append(name)
        # The retry queue: messages wait retry_delay_ms, then dead-letter back to NAME.
        delay = spec.get("retry_delay_ms", settings["retry_delay_ms"])
        route = {"dead-letter-exchange": "", "dead-letter-routing-key": name}
        legacy = _declared_without(live_queues, qvhost, retry, RETRY_ROUTE)
        if not legacy:
            retry_queue["arguments"].update({DEAD_LETTER: "", RETRY_ROUTE: name})
        if legacy or delay != settings["retry_delay_ms"]:
            out_policies.append(
                _policy(f"retry.{name}", qvhost, f"^{re.escape(retry)}$", {"message-ttl": delay, **route}, settings)
            )
        else:
            shared_delay.setdefault((qvhost, str(delay)), []).append(retry)

    out_policies += _shared("retry-delay", shared_delay, {"message-ttl": settings["retry_delay_ms"]}, settings)
    if settings.get("delivery_limit"):
        out_policies += _shared(
            "delivery-limit", shared_limit, {"delivery-limit": settings["delivery_limit"]}, settings
        )

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
            raise TopologyError(
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
            raise TopologyError(
                f"rabbitmq_topology_bindings: {where}: source exchange {b['source']!r} is not declared "
                "in rabbitmq_topology_exchanges"
            )
        known = known_queues if b["destination_type"] == "queue" else known_exchanges
        if (b["vhost"], b["destination"]) not in known:
            listing = "rabbitmq_topology_queues" if b["destination_type"] == "queue" else "rabbitmq_topology_exchanges"
            raise TopologyError(
                f"rabbitmq_topology_bindings: {where}: destination {b['destination_type']} "
                f"{b['destination']!r} is not declared in {listing}"
            )


def drift(live: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> str:
    """Compare live queues (live_queues() rows) with the wanted ones.

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


def live(results: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """{vhost: its definitions export, or None when it does not exist}, from the uri loop's results."""
    found: dict[str, dict[str, Any] | None] = {}
    for r in results:
        if r.get("status") == 200:
            found[r["item"]] = r["json"]
        elif (r.get("json") or {}).get("reason") == "vhost_not_found" or r.get("status") == 404:
            found[r["item"]] = None  # RabbitMQ answers 400 vhost_not_found
        else:
            raise TopologyError(
                f"reading the definitions of vhost {r['item']!r}: HTTP {r.get('status')} {r.get('json')}"
            )
    return found


def _live_items(live: dict[str, dict[str, Any] | None], kind: str) -> list[dict[str, Any]]:
    """One kind of object from per-vhost definition exports ({vhost: export or None})."""
    return [
        {**item, "vhost": item.get("vhost", vhost)}
        for vhost, export in live.items()
        for item in (export or {}).get(kind, [])
    ]


def live_queues(live: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The live queues of definition exports as {name, vhost, type, durable, arguments} rows.

    An export has no type field: RabbitMQ records it as the x-queue-type argument (always
    since 4.0; before, only for quorum queues and streams), so no argument means classic.
    """
    return [
        {
            "name": q["name"],
            "vhost": q["vhost"],
            "type": (q.get("arguments") or {}).get(TYPE_ARGUMENT, "classic"),
            "durable": q.get("durable"),
            "arguments": q.get("arguments") or {},
        }
        for q in _live_items(live, "queues")
    ]


def _binding_key(b: dict[str, Any]) -> tuple[Any, ...]:
    arguments = sorted((b.get("arguments") or {}).items())
    return (b["vhost"], b["source"], b["destination"], b["destination_type"], b["routing_key"], repr(arguments))


def _import_policy(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "vhost": p["vhost"],
        "name": p["name"],
        "pattern": p["pattern"],
        "apply-to": p["apply_to"],
        "priority": p["priority"],
        "definition": p["definition"],
    }


def changes(wanted: dict[str, list[Any]], live: dict[str, dict[str, Any] | None]) -> dict[str, list[Any]]:
    """The definitions to import so the broker has every wanted object: what is missing or differs.

    live maps each wanted vhost to its definitions export (GET /api/definitions/VHOST), or
    None when the vhost does not exist. Queues that exist are left alone (drift() has
    compared them); an existing exchange with other properties is refused the same way.
    """
    live_exchanges = {(e["vhost"], e["name"]): e for e in _live_items(live, "exchanges")}
    live_queues = {(q["vhost"], q["name"]) for q in _live_items(live, "queues")}
    live_bindings = {_binding_key(b) for b in _live_items(live, "bindings")}
    live_policies = {(p["vhost"], p["name"]): p for p in _live_items(live, "policies")}
    out: dict[str, list[Any]] = {"vhosts": [], "exchanges": [], "queues": [], "bindings": [], "policies": []}
    out["vhosts"] = [{"name": v} for v in wanted["vhosts"] if live.get(v) is None]
    problems = []
    for e in wanted["exchanges"]:
        current = live_exchanges.get((e["vhost"], e["name"]))
        want = {"type": e["type"], "durable": e["durable"], "auto_delete": False, "internal": False}
        if current is None:
            out["exchanges"].append({"name": e["name"], "vhost": e["vhost"], **want, "arguments": e["arguments"]})
            continue
        have = {key: current.get(key) for key in want}
        for key in want:
            if have[key] != want[key]:
                problems.append(
                    f"exchange '{e['name']}' (vhost '{e['vhost']}'): {key} is {have[key]!r} on the broker "
                    f"but the topology wants {want[key]!r}."
                )
        if (current.get("arguments") or {}) != e["arguments"]:
            problems.append(
                f"exchange '{e['name']}' (vhost '{e['vhost']}'): arguments is {current.get('arguments')!r} "
                f"on the broker but the topology wants {e['arguments']!r}."
            )
    if problems:
        raise TopologyError(
            " ".join(problems) + " An exchange's type, durability and arguments cannot change while it "
            "exists: delete it (rabbitmqadmin delete exchange name=...) and run the play again, or "
            "give the new one another name. Nothing was changed."
        )
    for q in wanted["queues"]:
        if (q["vhost"], q["name"]) not in live_queues:
            out["queues"].append(
                {
                    "name": q["name"],
                    "vhost": q["vhost"],
                    "durable": q["durable"],
                    "auto_delete": False,
                    "arguments": q["arguments"],
                }
            )
    out["bindings"] = [b for b in wanted["bindings"] if _binding_key(b) not in live_bindings]
    for p in wanted["policies"]:
        policy = _import_policy(p)
        current = live_policies.get((p["vhost"], p["name"]))
        if current is None or {**current, "vhost": p["vhost"]} != policy:
            out["policies"].append(policy)
    return out


def _enc(text: str) -> str:
    return quote(text, safe="")


def _per_queue_names(wanted: dict[str, list[Any]]) -> set[tuple[str, str]]:
    """(vhost, name) of the per-queue policies a worker queue of the topology may carry."""
    exchanges = {(e["vhost"], e["name"]) for e in wanted["exchanges"]}
    return {
        (q["vhost"], f"{prefix}.{q['name']}")
        for q in wanted["queues"]
        if (q["vhost"], derived(q["name"])["dead_letter_exchange"]) in exchanges
        for prefix in ("dead-letter", "retry")
    }


def owned_policies(wanted: dict[str, list[Any]]) -> list[dict[str, str]]:
    """Every policy the topology declares or may have declared before, for its teardown."""
    names = {(p["vhost"], p["name"]) for p in wanted["policies"]} | _per_queue_names(wanted)
    return [{"vhost": vhost, "name": name} for vhost, name in sorted(names)]


def retired(wanted: dict[str, list[Any]], live: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Live policies the kit derived that the topology no longer wants: {vhost, name, path}.

    A shared policy (`topology.*`) or a per-queue one (`dead-letter.Q`, `retry.Q` for a queue Q
    of the topology) left behind would compete with the policy that now covers its queues.
    """
    wanted_policies = {(p["vhost"], p["name"]) for p in wanted["policies"]}
    derived = _per_queue_names(wanted)
    return [
        {"vhost": p["vhost"], "name": p["name"], "path": f"policies/{_enc(p['vhost'])}/{_enc(p['name'])}"}
        for p in _live_items(live, "policies")
        if (p["vhost"], p["name"]) not in wanted_policies
        and (p["name"].startswith(SHARED_PREFIX) or (p["vhost"], p["name"]) in derived)
    ]


def unmanaged(wanted: dict[str, list[Any]], live: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Live objects in the topology's vhosts that it does not declare (built-ins left out).

    Each is {kind, vhost, name, path}: path is its management API path, for deleting it.
    Policies the kit derived itself are retired() instead.
    """
    enc = _enc
    declared = {kind: {(o["vhost"], o["name"]) for o in wanted[kind]} for kind in ("exchanges", "queues", "policies")}
    declared["policies"] |= {(p["vhost"], p["name"]) for p in retired(wanted, live)}
    declared_bindings = {_binding_key(b) for b in wanted["bindings"]}
    found = []
    for kind in ("policies", "exchanges", "queues"):
        for o in _live_items(live, kind):
            if kind == "exchanges" and (o["name"] in BUILTIN_EXCHANGES or o["name"].startswith("amq.")):
                continue
            if (o["vhost"], o["name"]) not in declared[kind]:
                found.append(
                    {
                        "kind": kind[:-1] if kind != "policies" else "policy",
                        "vhost": o["vhost"],
                        "name": o["name"],
                        # A queue is deleted only if empty: the broker itself refuses otherwise
                        # (exact, where the API's message counts lag).
                        "path": f"{kind}/{enc(o['vhost'])}/{enc(o['name'])}"
                        + ("?if-empty=true" if kind == "queues" else ""),
                    }
                )
    for b in _live_items(live, "bindings"):
        if _binding_key(b) in declared_bindings:
            continue
        letter = "q" if b["destination_type"] == "queue" else "e"
        # The API names a binding without arguments by its routing key ("~" when empty);
        # one with arguments by a hash the export does not carry: no path, not pruned.
        props = None if b.get("arguments") else enc(b["routing_key"]) or "~"
        found.append(
            {
                "kind": "binding",
                "vhost": b["vhost"],
                "name": f"{b['source']} -> {b['destination']} ({b['routing_key']})",
                "path": props
                and f"bindings/{enc(b['vhost'])}/e/{enc(b['source'])}/{letter}/{enc(b['destination'])}/{props}",
            }
        )
    return found


def plan(wanted: dict[str, list[Any]], live: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """drift(), changes(), unmanaged() and retired() at once: the role's plan in one step.

    changes() is computed only without drift (it would refuse an exchange drift on its own).
    """
    problems = drift(live_queues(live), wanted["queues"])
    if problems:
        return {"drift": problems, "changes": {}, "unmanaged": [], "retired": []}
    return {
        "drift": "",
        "changes": changes(wanted, live),
        "unmanaged": unmanaged(wanted, live),
        "retired": retired(wanted, live),
    }
