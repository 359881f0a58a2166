"""Bad variables stop the run before any host is touched, naming the variable.

Every run targets a host that does not exist: reaching for it would show as
"unreachable", so `unreachable=0` proves the failure came first.
"""

import json
import sys

import pytest
import yaml
from conftest import ROOT, run_playbook_once

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


def typed_options():
    """Every numeric and boolean variable of the roles site.yml runs, from their argument specs."""
    sys.path.insert(0, str(ROOT / "plugins" / "filter"))
    from kit_checks import kit_typed_options

    return kit_typed_options(["rabbitmq_server", "rabbitmq_topology", "event_worker", "rabbitmq_smoke"])


AS_STRING = {"int": "1", "float": "0.5", "bool": "true"}


@pytest.fixture(scope="module")
def all_typed_as_key_value(nowhere_inventory):
    """One site.yml run with every numeric and boolean variable given as -e NAME=VALUE (a string)."""
    extra = [arg for option in typed_options() for arg in ("-e", f"{option['name']}={AS_STRING[option['type']]}")]
    return run_playbook_once(nowhere_inventory, "site.yml", *GOOD, *extra)


def test_every_role_has_typed_variables_to_check():
    roles = {option["role"] for option in typed_options()}
    # rabbitmq_api: the management API connection the last three depend on.
    assert roles == {"rabbitmq_server", "rabbitmq_api", "rabbitmq_topology", "event_worker", "rabbitmq_smoke"}


@pytest.mark.parametrize("option", typed_options(), ids=lambda option: option["name"])
def test_key_value_number_or_boolean_is_refused_by_name(all_typed_as_key_value, option):
    code, out = all_typed_as_key_value
    assert_stopped_before_host(code, out)
    expected = "true or false" if option["type"] == "bool" else f"a number ({option['type']})"
    assert f"{option['name']} must be {expected}, not the string '{AS_STRING[option['type']]}'" in out
    assert "Error rendering" not in out


def role_default(option):
    defaults = yaml.safe_load((ROOT / "roles" / option["role"] / "defaults" / "main.yml").read_text())
    return defaults.get(option["name"])


def test_json_extra_vars_are_accepted(run_playbook):
    """The roles' own defaults, given as JSON on the command line, pass every check."""
    values = {o["name"]: role_default(o) for o in typed_options() if isinstance(role_default(o), (int, float, bool))}
    assert len(values) > 20
    secrets = {
        "rabbitmq_topology_publisher_passwords": {"publisher": "publisher-secret"},
        "event_worker_passwords": {"orders": "orders-secret", "whatsapp": "whatsapp-secret"},
    }
    code, out = run_playbook("site.yml", *GOOD, "--tags", "never", "-e", json.dumps(values | secrets))
    assert code == 0, out
    assert "must be" not in out


def test_tls_passes_the_checks_before_the_broker_publishes_its_ca(run_playbook):
    """The workers' CA comes from the broker play: the up-front validation must not ask for it."""
    secrets = {
        "rabbitmq_server_tls": True,
        "rabbitmq_topology_publisher_passwords": {"publisher": "publisher-secret"},
        "event_worker_passwords": {"orders": "orders-secret", "whatsapp": "whatsapp-secret"},
    }
    code, out = run_playbook("site.yml", *GOOD, "--tags", "never", "-e", json.dumps(secrets))
    assert code == 0, out


def test_broker_change_with_a_bad_topology_value_stops_site_before_any_host(run_playbook):
    extra = {
        "rabbitmq_server_vm_memory_high_watermark": 0.5,
        "rabbitmq_topology_exchanges": [{"name": "audit", "type": "topik"}],
    }
    code, out = run_playbook("site.yml", *GOOD, "-e", json.dumps(extra))
    assert_stopped_before_host(code, out)
    assert "got: topik" in out
    # The broker play never started: the validation play stopped the run.
    assert "PLAY [Deploy the RabbitMQ broker]" not in out


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("rabbitmq_topology_api_port", "rabbitmq_api_port"),
        ("rabbitmq_smoke_api_user", "rabbitmq_api_user"),
        ("event_worker_api_password", "rabbitmq_api_password"),
    ],
)
def test_a_per_role_api_variable_of_earlier_versions_stops_the_run_naming_its_new_name(run_playbook, old, new):
    """The API connection is set once (rabbitmq_api_*): an old per-role name would be ignored silently."""
    secrets = {
        "rabbitmq_topology_publisher_passwords": {"publisher": "publisher-secret"},
        "event_worker_passwords": {"orders": "orders-secret", "whatsapp": "whatsapp-secret"},
    }
    code, out = run_playbook("site.yml", *GOOD, "-e", json.dumps(secrets | {old: "15999"}))
    assert_stopped_before_host(code, out)
    assert f"{old}: the management API connection is now set once for every role, in {new}" in out
    assert "PLAY [Deploy the RabbitMQ broker]" not in out
