"""The topology expansion and drift rules (plugins/module_utils/topology.py)."""

import importlib.util
import re
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "topology_filter",
    Path(__file__).resolve().parents[2] / "plugins/module_utils/topology.py",
)
topology = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(topology)

SETTINGS = {
    "vhost": "/",
    "default_queue_type": "classic",
    "retry_delay_ms": 5000,
    "delivery_limit": 20,
    "policy_priority": 10,
}
EXCHANGES = [{"name": "events", "type": "topic"}]
QUEUES = [{"name": "order.events"}]
BINDINGS = [{"source": "events", "destination": "order.events", "routing_key": "order.*"}]


def expand(exchanges=EXCHANGES, queues=QUEUES, bindings=BINDINGS, policies=(), settings=SETTINGS):
    return topology.expand(list(exchanges), list(queues), list(bindings), list(policies), dict(settings))


def names(items):
    return sorted(item["name"] for item in items)


def test_worker_queue_gets_dead_letter_and_retry_paths():
    out = expand()
    assert names(out["exchanges"]) == ["events", "order.events.dlx", "order.events.retry"]
    assert names(out["queues"]) == ["order.events", "order.events.dlq", "order.events.retry"]
    arguments = {q["name"]: q["arguments"] for q in out["queues"]}
    # What follows from the names alone is fixed at declaration, as queue arguments.
    assert arguments == {
        "order.events": {"x-dead-letter-exchange": "order.events.dlx"},
        "order.events.dlq": {},
        "order.events.retry": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "order.events"},
    }
    # What an operator tunes (the retry delay) stays a policy, shared by the queues with the same value.
    [policy] = out["policies"]
    assert policy["name"].startswith("topology.retry-delay.")
    assert policy["definition"] == {"message-ttl": 5000}
    assert matched(policy, ["order.events", "order.events.retry", "order.events.dlq"]) == ["order.events.retry"]


def matched(policy, candidates):
    """The names a policy's pattern matches (RabbitMQ's PCRE and Python's re agree on these)."""
    return [name for name in candidates if re.search(policy["pattern"], name)]


def test_dead_letter_false_declares_only_the_queue():
    out = expand(queues=[{"name": "order.events", "dead_letter": False}])
    assert names(out["queues"]) == ["order.events"]
    assert out["policies"] == []


def test_quorum_queues_carry_type_and_delivery_limit():
    out = expand(queues=[{"name": "order.events", "type": "quorum"}])
    work = next(q for q in out["queues"] if q["name"] == "order.events")
    assert work["arguments"] == {"x-queue-type": "quorum", "x-dead-letter-exchange": "order.events.dlx"}
    assert all(q["type"] == "quorum" for q in out["queues"])
    policy = next(p for p in out["policies"] if p["name"].startswith("topology.delivery-limit."))
    assert policy["definition"] == {"delivery-limit": 20}
    assert matched(policy, ["order.events", "order.events.retry", "order.events.dlq"]) == ["order.events"]


def test_queue_policy_keys_get_the_queue_its_own_policy():
    out = expand(queues=[{"name": "order.events", "policy": {"max-length": 1000}}])
    policy = next(p for p in out["policies"] if p["name"] == "dead-letter.order.events")
    assert policy["definition"] == {"dead-letter-exchange": "order.events.dlx", "max-length": 1000}
    assert policy["pattern"] == r"^order\.events$"


def test_a_queue_with_its_own_retry_delay_gets_its_own_retry_policy():
    out = expand(queues=[{"name": "order.events", "retry_delay_ms": 60000}, {"name": "other"}])
    policies = {p["name"]: p for p in out["policies"]}
    assert policies["retry.order.events"]["definition"] == {
        "message-ttl": 60000,
        "dead-letter-exchange": "",
        "dead-letter-routing-key": "order.events",
    }
    [shared] = [p for p in out["policies"] if p["name"].startswith("topology.retry-delay.")]
    assert matched(shared, ["order.events.retry", "other.retry"]) == ["other.retry"]


def test_a_thousand_worker_queues_need_a_few_policies_not_two_thousand():
    # Every policy change makes the broker match every queue against every policy: per-queue
    # policies made a first converge of 1,000 worker queues fail (bench/README.md).
    queues = [{"name": f"q{i:04d}", "type": "quorum"} for i in range(1000)]
    out = expand(queues=queues, bindings=[])
    assert len(out["policies"]) <= 32
    retry_names = [f"q{i:04d}.retry" for i in range(1000)]
    retry = [p for p in out["policies"] if p["name"].startswith("topology.retry-delay.")]
    limit = [p for p in out["policies"] if p["name"].startswith("topology.delivery-limit.")]
    # Each name is matched by exactly one policy of its kind, and nothing else is.
    assert sorted(n for p in retry for n in matched(p, [*retry_names, "q0001", "q0001.retry.x", "xq0001.retry"])) == (
        retry_names
    )
    assert sorted(n for p in limit for n in matched(p, [q["name"] for q in queues] + ["q00011", "q0001.dlq"])) == [
        q["name"] for q in queues
    ]
    # Adding a queue changes one shared policy, not all of them.
    more = expand(queues=[*queues, {"name": "new.queue", "type": "quorum"}], bindings=[])
    before = {p["name"]: p for p in out["policies"]}
    assert sum(before.get(p["name"]) != p for p in more["policies"]) == 2


LEGACY_LIVE = [
    {"name": "order.events", "vhost": "/", "type": "classic", "durable": True, "arguments": {}},
    {"name": "order.events.dlq", "vhost": "/", "type": "classic", "durable": True, "arguments": {}},
    {"name": "order.events.retry", "vhost": "/", "type": "classic", "durable": True, "arguments": {}},
]


def test_queues_declared_before_keep_their_policies_and_are_not_drift():
    # Arguments cannot be added to a live queue: one declared with per-queue policies keeps them.
    out = expand(settings={**SETTINGS, "live_queues": LEGACY_LIVE})
    assert all(q["arguments"] == {} for q in out["queues"])
    assert topology.drift(LEGACY_LIVE, out["queues"]) == ""
    policies = {p["name"]: p["definition"] for p in out["policies"]}
    assert policies == {
        "dead-letter.order.events": {"dead-letter-exchange": "order.events.dlx"},
        "retry.order.events": {
            "message-ttl": 5000,
            "dead-letter-exchange": "",
            "dead-letter-routing-key": "order.events",
        },
    }


def test_policies_the_kit_derived_and_no_longer_needs_are_retired_not_left_competing():
    wanted = expand()
    live = export_of(wanted)
    live["policies"] += [
        {
            "name": "dead-letter.order.events",
            "pattern": "^order\\.events$",
            "apply-to": "queues",
            "priority": 10,
            "definition": {"dead-letter-exchange": "order.events.dlx", "max-length": 5},
        },
        {
            "name": "topology.retry-delay.99",
            "pattern": "^(x)$",
            "apply-to": "queues",
            "priority": 10,
            "definition": {"message-ttl": 1},
        },
        {"name": "operators-own", "pattern": "^audit$", "apply-to": "queues", "priority": 0, "definition": {}},
    ]
    retired = topology.retired(wanted, {"/": live})
    assert sorted(r["path"] for r in retired) == [
        "policies/%2F/dead-letter.order.events",
        "policies/%2F/topology.retry-delay.99",
    ]
    assert [o["name"] for o in topology.unmanaged(wanted, {"/": live})] == ["operators-own"]


def test_default_queue_type_applies():
    out = expand(settings={**SETTINGS, "default_queue_type": "quorum"})
    assert {q["type"] for q in out["queues"]} == {"quorum"}


def test_queue_policy_keys_merge_into_its_policy():
    out = expand(queues=[{"name": "order.events", "policy": {"max-length": 1000}}])
    policy = next(p for p in out["policies"] if p["name"] == "dead-letter.order.events")
    assert policy["definition"] == {"dead-letter-exchange": "order.events.dlx", "max-length": 1000}


def test_third_use_case_is_only_variables():
    out = expand(
        exchanges=[*EXCHANGES, {"name": "audit", "type": "fanout"}],
        queues=[*QUEUES, {"name": "audit.log"}],
        bindings=[*BINDINGS, {"source": "audit", "destination": "audit.log"}],
    )
    assert ("audit", "audit.log", "") in {(b["source"], b["destination"], b["routing_key"]) for b in out["bindings"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bindings": [{"source": "nope", "destination": "order.events"}]}, "source exchange 'nope' is not declared"),
        ({"bindings": [{"source": "events", "destination": "nope"}]}, "destination queue 'nope' is not declared"),
        (
            {"bindings": [{"source": "events", "destination": "nope", "destination_type": "exchange"}]},
            "destination exchange 'nope' is not declared in rabbitmq_topology_exchanges",
        ),
        ({"queues": [{"name": "q", "type": "quorum", "durable": False}], "bindings": []}, "must be durable"),
        ({"queues": [{"name": "q", "arguments": {"x-queue-type": "quorum"}}], "bindings": []}, "'type' key"),
        ({"queues": [{"name": "a"}, {"name": "a"}], "bindings": []}, "queue 'a' (vhost '/') is declared twice"),
        ({"queues": [{"name": "a"}, {"name": "a.dlq"}], "bindings": []}, "queue 'a.dlq' (vhost '/') is declared twice"),
    ],
)
def test_inconsistent_topology_is_refused(kwargs, message):
    with pytest.raises(topology.TopologyError, match=None) as error:
        expand(**kwargs)
    assert message in str(error.value)


def test_builtin_exchanges_may_be_bound():
    expand(bindings=[{"source": "amq.topic", "destination": "order.events", "routing_key": "#"}])


def test_no_drift_when_live_matches():
    wanted = expand()["queues"]
    live = [
        {
            "name": q["name"],
            "vhost": "/",
            "type": "classic",
            "durable": True,
            "arguments": {"x-queue-type": "classic", **q["arguments"]},
        }
        for q in wanted
    ]
    assert topology.drift(live, wanted) == ""


def test_drift_names_queue_property_and_both_values():
    live = [
        {"name": "order.events", "vhost": "/", "type": "classic", "durable": False, "arguments": {"x-max-length": 5}}
    ]
    wanted = expand(queues=[{"name": "order.events", "type": "quorum"}], settings={**SETTINGS, "live_queues": live})[
        "queues"
    ]
    message = topology.drift(live, wanted)
    assert (
        "queue 'order.events' (vhost '/'): type is 'classic' on the broker but the topology wants 'quorum'." in message
    )
    assert "durable is False on the broker but the topology wants True." in message
    assert "arguments is {'x-max-length': 5} on the broker but the topology wants {}." in message
    assert "To migrate" in message


def test_a_live_dead_letter_argument_of_another_value_is_drift():
    live = [
        {
            "name": "order.events",
            "vhost": "/",
            "type": "classic",
            "durable": True,
            "arguments": {"x-dead-letter-exchange": "elsewhere"},
        }
    ]
    wanted = expand(settings={**SETTINGS, "live_queues": live})["queues"]
    assert "'x-dead-letter-exchange': 'elsewhere'} on the broker" in topology.drift(live, wanted)


def test_absent_queues_are_not_drift():
    assert topology.drift([], expand()["queues"]) == ""


def export_of(wanted):
    """A per-vhost definitions export (GET /api/definitions/%2F) holding exactly `wanted`."""
    imported = topology.changes(wanted, {"/": None})
    return {
        "exchanges": [{k: v for k, v in e.items() if k != "vhost"} for e in imported["exchanges"]],
        "queues": [{k: v for k, v in q.items() if k != "vhost"} for q in imported["queues"]],
        "bindings": [{k: v for k, v in b.items() if k != "vhost"} for b in imported["bindings"]],
        "policies": [{k: v for k, v in p.items() if k != "vhost"} for p in imported["policies"]],
    }


def test_a_new_vhost_gets_everything_in_one_document():
    wanted = expand()
    changes = topology.changes(wanted, {"/": None})
    assert changes["vhosts"] == [{"name": "/"}]
    assert names(changes["queues"]) == ["order.events", "order.events.dlq", "order.events.retry"]
    assert len(changes["bindings"]) == 3
    assert [p["definition"] for p in changes["policies"]] == [{"message-ttl": 5000}]
    assert all(p["apply-to"] == "queues" and p["vhost"] == "/" for p in changes["policies"])


def test_nothing_to_do_when_the_broker_has_it_all():
    wanted = expand()
    changes = topology.changes(wanted, {"/": export_of(wanted)})
    assert all(value == [] for value in changes.values())
    assert topology.unmanaged(wanted, {"/": export_of(wanted)}) == []


def test_only_the_missing_binding_and_the_changed_policy_are_sent():
    wanted = expand()
    live = export_of(wanted)
    live["bindings"] = [b for b in live["bindings"] if b["routing_key"] != "order.*"]
    live["policies"][0]["definition"] = {"dead-letter-exchange": "elsewhere"}
    changes = topology.changes(wanted, {"/": live})
    assert changes["vhosts"] == changes["exchanges"] == changes["queues"] == []
    assert [b["routing_key"] for b in changes["bindings"]] == ["order.*"]
    assert [p["name"] for p in changes["policies"]] == [live["policies"][0]["name"]]


def test_an_exchange_of_another_type_is_refused():
    wanted = expand()
    live = export_of(wanted)
    live["exchanges"][0]["type"] = "direct"
    with pytest.raises(
        topology.TopologyError, match="exchange 'events' \\(vhost '/'\\): type is 'direct' on the broker"
    ):
        topology.changes(wanted, {"/": live})


def test_objects_the_topology_does_not_declare_are_listed_with_their_api_paths():
    wanted = expand()
    live = export_of(wanted)
    live["queues"].append({"name": "audit log", "durable": True, "auto_delete": False, "arguments": {}})
    live["exchanges"] += [
        {"name": "audit", "type": "fanout", "durable": True, "auto_delete": False, "internal": False, "arguments": {}},
        {
            "name": "amq.topic",
            "type": "topic",
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        },
    ]
    live["bindings"] += [
        {
            "source": "events",
            "destination": "audit log",
            "destination_type": "queue",
            "routing_key": "#",
            "arguments": {},
        },
        {
            "source": "audit",
            "destination": "audit log",
            "destination_type": "queue",
            "routing_key": "",
            "arguments": {"x": 1},
        },
    ]
    found = {(o["kind"], o["name"]): o["path"] for o in topology.unmanaged(wanted, {"/": live})}
    assert found == {
        ("exchange", "audit"): "exchanges/%2F/audit",
        ("queue", "audit log"): "queues/%2F/audit%20log?if-empty=true",
        ("binding", "events -> audit log (#)"): "bindings/%2F/e/events/q/audit%20log/%23",
        ("binding", "audit -> audit log ()"): None,
    }


def test_live_results_map_each_vhost_to_its_export_or_none():
    results = [
        {"item": "/", "status": 200, "json": {"queues": []}},
        {"item": "new", "status": 400, "json": {"error": "bad_request", "reason": "vhost_not_found"}},
    ]
    assert topology.live(results) == {"/": {"queues": []}, "new": None}


def test_an_unexpected_answer_reading_definitions_is_an_error():
    with pytest.raises(topology.TopologyError, match="HTTP 400"):
        topology.live([{"item": "/", "status": 400, "json": {"error": "bad_request", "reason": "other"}}])


def test_teardown_covers_the_per_queue_policies_of_an_earlier_version():
    owned = {(p["vhost"], p["name"]) for p in topology.owned_policies(expand())}
    assert {("/", "dead-letter.order.events"), ("/", "retry.order.events")} <= owned
    assert {("/", p["name"]) for p in expand()["policies"]} <= owned
    assert ("/", "dead-letter.order.events.dlq") not in owned


def test_live_queues_come_from_the_exports_with_their_type():
    exports = {
        "/": {
            "queues": [
                {"name": "old", "durable": True, "arguments": {}},
                {
                    "name": "q",
                    "durable": True,
                    "arguments": {"x-queue-type": "quorum", "x-dead-letter-exchange": "q.dlx"},
                },
            ]
        },
        "new": None,
    }
    assert topology.live_queues(exports) == [
        {"name": "old", "vhost": "/", "type": "classic", "durable": True, "arguments": {}},
        {
            "name": "q",
            "vhost": "/",
            "type": "quorum",
            "durable": True,
            "arguments": {"x-queue-type": "quorum", "x-dead-letter-exchange": "q.dlx"},
        },
    ]


def test_the_plan_stops_at_drift_before_working_out_any_change():
    wanted = expand()
    live = export_of(wanted)
    live["queues"][0]["durable"] = False
    plan = topology.plan(wanted, {"/": live})
    assert "durable is False on the broker but the topology wants True." in plan["drift"]
    assert plan["changes"] == {}
    assert topology.plan(wanted, {"/": export_of(wanted)})["drift"] == ""
