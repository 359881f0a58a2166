"""The topology expansion and drift rules (roles/rabbitmq_topology/filter_plugins/topology.py)."""

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

SPEC = importlib.util.spec_from_file_location(
    "topology_filter",
    Path(__file__).resolve().parents[2] / "roles/rabbitmq_topology/filter_plugins/topology.py",
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
    policies = {p["name"]: p for p in out["policies"]}
    assert policies["dead-letter.order.events"]["pattern"] == r"^order\.events$"
    assert policies["dead-letter.order.events"]["definition"] == {"dead-letter-exchange": "order.events.dlx"}
    assert policies["retry.order.events"]["definition"] == {
        "message-ttl": 5000,
        "dead-letter-exchange": "",
        "dead-letter-routing-key": "order.events",
    }
    # Dead-lettering is attached by policy, never by queue arguments.
    assert all(q["arguments"] == {} for q in out["queues"])


def test_dead_letter_false_declares_only_the_queue():
    out = expand(queues=[{"name": "order.events", "dead_letter": False}])
    assert names(out["queues"]) == ["order.events"]
    assert out["policies"] == []


def test_quorum_queues_carry_type_and_delivery_limit():
    out = expand(queues=[{"name": "order.events", "type": "quorum"}])
    work = next(q for q in out["queues"] if q["name"] == "order.events")
    assert work["arguments"] == {"x-queue-type": "quorum"}
    assert all(q["type"] == "quorum" for q in out["queues"])
    policy = next(p for p in out["policies"] if p["name"] == "dead-letter.order.events")
    assert policy["definition"]["delivery-limit"] == 20


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
    with pytest.raises(AnsibleFilterError, match=None) as error:
        expand(**kwargs)
    assert message in str(error.value)


def test_builtin_exchanges_may_be_bound():
    expand(bindings=[{"source": "amq.topic", "destination": "order.events", "routing_key": "#"}])


def test_no_drift_when_live_matches():
    wanted = expand()["queues"]
    live = [
        {"name": q["name"], "vhost": "/", "type": "classic", "durable": True, "arguments": {"x-queue-type": "classic"}}
        for q in wanted
    ]
    assert topology.drift(live, wanted) == ""


def test_drift_names_queue_property_and_both_values():
    wanted = expand(queues=[{"name": "order.events", "type": "quorum"}])["queues"]
    live = [
        {"name": "order.events", "vhost": "/", "type": "classic", "durable": False, "arguments": {"x-max-length": 5}}
    ]
    message = topology.drift(live, wanted)
    assert (
        "queue 'order.events' (vhost '/'): type is 'classic' on the broker but the topology wants 'quorum'." in message
    )
    assert "durable is False on the broker but the topology wants True." in message
    assert "arguments is {'x-max-length': 5} on the broker but the topology wants {}." in message
    assert "To migrate" in message


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
    assert {p["name"] for p in changes["policies"]} == {"dead-letter.order.events", "retry.order.events"}
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
    with pytest.raises(AnsibleFilterError, match="exchange 'events' \\(vhost '/'\\): type is 'direct' on the broker"):
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
    with pytest.raises(AnsibleFilterError, match="HTTP 400"):
        topology.live([{"item": "/", "status": 400, "json": {"error": "bad_request", "reason": "other"}}])
