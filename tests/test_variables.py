"""Bad variables stop the run before any host is touched, naming the variable.

Every run targets a host that does not exist: reaching for it would show as
"unreachable", so `unreachable=0` proves the failure came first.
"""

import json

import pytest

GOOD = ["-e", "rabbitmq_server_admin_password=correct-horse-battery"]


def assert_stopped_before_host(code, out):
    assert code != 0
    assert "unreachable=1" not in out
    assert "changed=1" not in out


def test_unset_admin_password_fails_naming_it(run_playbook):
    code, out = run_playbook("site.yml")
    assert_stopped_before_host(code, out)
    assert "missing required arguments: rabbitmq_server_admin_password" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"rabbitmq_server_amqp_port": "amqp"}, "rabbitmq_server_amqp_port"),
        ({"rabbitmq_server_amqp_port": 70000}, "rabbitmq_server_amqp_port must be a TCP port (1-65535), not 70000"),
        ({"rabbitmq_server_management_port": 0}, "rabbitmq_server_management_port must be a TCP port"),
        (
            {"rabbitmq_server_vm_memory_high_watermark": 4},
            "rabbitmq_server_vm_memory_high_watermark must be a fraction",
        ),
        ({"rabbitmq_server_disk_free_limit": "lots"}, "rabbitmq_server_disk_free_limit must be a size"),
        ({"rabbitmq_server_install_source": "tarball"}, "rabbitmq_server_install_source"),
        ({"rabbitmq_server_keep_guest": "maybe"}, "rabbitmq_server_keep_guest"),
        ({"rabbitmq_server_admin_password": "short"}, "rabbitmq_server_admin_password must be at least 8"),
    ],
)
def test_bad_broker_variable_fails_naming_it(run_playbook, extra, message):
    code, out = run_playbook("playbooks/broker.yml", *GOOD, "-e", json.dumps(extra))
    assert_stopped_before_host(code, out)
    assert message in out


TOPOLOGY_CASES = [
    (
        {"rabbitmq_topology_exchanges": [{"name": "audit", "type": "fanot"}]},
        "value of type must be one of: direct, topic, fanout, headers, got: fanot",
    ),
    (
        {"rabbitmq_topology_exchanges": [{"name": "audit", "typ": "fanout"}]},
        "rabbitmq_topology_exchanges.typ. Supported parameters include: arguments, durable, name, type, vhost",
    ),
    (
        {"rabbitmq_topology_queues": [{"name": "audit.log", "durabel": True}]},
        "rabbitmq_topology_queues.durabel. Supported parameters include",
    ),
    (
        {"rabbitmq_topology_bindings": [{"source": "evnets", "destination": "order.events", "routing_key": "order.*"}]},
        "source exchange 'evnets' is not declared in rabbitmq_topology_exchanges",
    ),
    (
        {"rabbitmq_topology_bindings": [{"source": "events", "destination": "order.event", "routing_key": "order.*"}]},
        "destination queue 'order.event' is not declared in rabbitmq_topology_queues",
    ),
    (
        {
            "rabbitmq_topology_queues": [{"name": "q", "type": "quorum", "durable": False}],
            "rabbitmq_topology_bindings": [],
        },
        "queue 'q' is a quorum queue, which must be durable",
    ),
]


@pytest.mark.parametrize(("extra", "message"), TOPOLOGY_CASES)
def test_bad_topology_fails_before_any_change(run_playbook, extra, message):
    code, out = run_playbook("playbooks/topology.yml", *GOOD, "-e", json.dumps(extra))
    assert_stopped_before_host(code, out)
    assert message in out
