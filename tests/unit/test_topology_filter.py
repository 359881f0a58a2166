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
