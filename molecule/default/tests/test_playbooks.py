"""Playbooks run against the converged host: drift refusal and the guarded teardown.

They run ansible-playbook with the scenario's own inventory, as an operator would.
"""

import json

import yaml
from kit_testing import PROJECT, playbook, role_logic, task_outcomes, wait_until


def live_queue(admin, name):
    return next((q for q in admin.json("list queues") if q["name"] == name), None)


def test_drift_fails_naming_queue_property_values_and_migration(admin):
    # A queue that exists as classic, holding a message; the topology now wants it quorum.
    admin.run("declare queue name=drift.probe durable=true")
    admin.run("publish exchange=amq.default routing_key=drift.probe payload=keep-me")
    wanted = {
        "rabbitmq_topology_queues": [{"name": "drift.probe", "type": "quorum", "dead_letter": False}],
        "rabbitmq_topology_bindings": [],
    }
    try:
        code, out = playbook("playbooks/topology.yml", "-e", json.dumps(wanted))
        assert code != 0
        assert "queue 'drift.probe' (vhost '/'): type is 'classic' on the broker but the topology wants 'quorum'" in out
        assert "To migrate" in out
        assert "Nothing was changed" in out
        queue = live_queue(admin, "drift.probe")
        assert queue["type"] == "classic"
        assert admin.depth("drift.probe") == 1
    finally:
        admin.run("delete queue name=drift.probe")


def test_drift_in_durability_and_arguments_is_refused(admin):
    admin.run("declare queue name=drift.probe durable=false arguments='{\"x-max-length\": 10}'")
    wanted = {
        "rabbitmq_topology_queues": [{"name": "drift.probe", "dead_letter": False}],
        "rabbitmq_topology_bindings": [],
    }
    try:
        code, out = playbook("playbooks/topology.yml", "-e", json.dumps(wanted))
        assert code != 0
        assert "durable is False on the broker but the topology wants True" in out
        assert "arguments is {'x-max-length': 10} on the broker but the topology wants {}" in out
    finally:
        admin.run("delete queue name=drift.probe")


def test_teardown_refuses_without_confirmation(admin):
    code, out = playbook("playbooks/teardown.yml")
    assert code != 0
    assert "missing required arguments: rabbitmq_topology_teardown_confirm" in out
    assert live_queue(admin, "order.events") is not None


@role_logic
def test_teardown_removes_the_topology_and_site_restores_it(admin):
    code, out = playbook("playbooks/teardown.yml", "-e", "rabbitmq_topology_teardown_confirm=yes")
    assert code == 0, out
    names = {q["name"] for q in admin.json("list queues")}
    assert not names & {"order.events", "whatsapp.notifications", "testqueue", "order.events.dlq"}
    exchanges = {e["name"] for e in admin.json("list exchanges")}
    assert not exchanges & {"events", "notifications"}
    # Declaring it again is the topology playbook's first run all over.
    code, out = playbook("playbooks/topology.yml")
    assert code == 0, out
    assert live_queue(admin, "order.events") is not None


def test_a_bad_variable_stops_site_before_any_host_changes(host):
    """A valid broker change and a bad topology value: the broker keeps its configuration."""
    conf = host.file("/etc/rabbitmq/rabbitmq.conf")
    checksum, mtime = conf.sha256sum, conf.mtime
    bad = {
        "rabbitmq_server_vm_memory_high_watermark": 0.5,
        "rabbitmq_topology_exchanges": [{"name": "audit", "type": "topik"}],
    }
    code, out = playbook("site.yml", "-e", json.dumps(bad))
    assert code != 0
    assert "value of type must be one of: direct, topic, fanout, headers, got: topik" in out
    assert "changed=0" in out and "changed=1" not in out
    conf = host.file("/etc/rabbitmq/rabbitmq.conf")
    assert (conf.sha256sum, conf.mtime) == (checksum, mtime)


def test_a_number_given_as_key_value_is_refused_by_name(host):
    code, out = playbook("site.yml", "-e", "rabbitmq_server_vm_memory_high_watermark=0.5")
    assert code != 0
    assert "rabbitmq_server_vm_memory_high_watermark must be a number (float), not the string '0.5'" in out
    assert "Error rendering" not in out


def declared(host, name):
    """The scenario's value of a topology variable, else the role's default."""
    defaults = PROJECT / "roles" / "rabbitmq_topology" / "defaults" / "main.yml"
    return host.ansible.get_variables().get(name, yaml.safe_load(defaults.read_text())[name])


@role_logic
def test_a_new_queue_is_shown_by_check_then_declared_in_one_import(admin):
    wanted = {"rabbitmq_topology_queues": [*declared(admin.host, "rabbitmq_topology_queues"), {"name": "audit.new"}]}
    try:
        code, out = playbook("playbooks/topology.yml", "--check", "--diff", "-e", json.dumps(wanted))
        assert code == 0, out
        assert "audit.new" in out and "changed=1" in out
        assert live_queue(admin, "audit.new") is None
        code, out = playbook("playbooks/topology.yml", "-e", json.dumps(wanted))
        assert code == 0, out
        assert "changed=1" in out, "one definitions import, one change"
        assert {"audit.new", "audit.new.dlq", "audit.new.retry"} <= {q["name"] for q in admin.json("list queues")}
        code, out = playbook("playbooks/topology.yml", "-e", json.dumps(wanted))
        assert code == 0, out
        assert "changed=0" in out
    finally:
        for kind, name in [
            *(("queue", q) for q in ("audit.new", "audit.new.dlq", "audit.new.retry")),
            *(("exchange", e) for e in ("audit.new.dlx", "audit.new.retry")),
        ]:
            admin.host.run(f"rabbitmqadmin delete {kind} name={name}")
        # The shared retry-delay policy named audit.new.retry: converge it back for the later checks.
        code, out = playbook("playbooks/topology.yml")
        assert code == 0, out


@role_logic
def test_undeclared_objects_are_listed_and_pruned_only_when_asked_and_empty(admin):
    admin.run("declare queue name=audit.extra durable=true")
    admin.run("declare binding source=events destination=audit.extra routing_key=audit.#")
    prune = json.dumps({"rabbitmq_topology_prune": True})
    try:
        code, out = playbook("playbooks/topology.yml")
        assert code == 0, out
        assert "Not in the topology: queue audit.extra, binding events -> audit.extra (audit.#)" in out
        assert "Left in place" in out and "changed=0" in out
        assert live_queue(admin, "audit.extra") is not None

        admin.publish("events", "audit.entry", {"audit": 1})  # routed to audit.extra only
        wait_until(lambda: admin.depth("audit.extra") == 1, timeout=30, what="the event in audit.extra")
        code, out = playbook("playbooks/topology.yml", "-e", prune)
        assert code != 0
        assert "does not delete queues that hold messages: audit.extra" in out
        assert admin.depth("audit.extra") == 1

        admin.run("purge queue name=audit.extra")
        code, out = playbook("playbooks/topology.yml", "-e", prune)
        assert code == 0, out
        assert live_queue(admin, "audit.extra") is None
        assert not [b for b in admin.json("list bindings") if b["destination"] == "audit.extra"]
    finally:
        admin.host.run("rabbitmqadmin delete queue name=audit.extra")


@role_logic
def test_the_smoke_play_names_a_stopped_worker_and_passes_again_once_it_runs(host):
    host.check_output("systemctl stop event-worker@whatsapp")
    try:
        code, out = playbook("playbooks/smoke.yml")
        assert code != 0
        assert "Event worker units not running on" in out
        assert "event-worker@whatsapp.service" in out
        assert "order.created -> order.events" in out, "the broker's routing proof ran first"
    finally:
        host.check_output("systemctl reset-failed event-worker@whatsapp; systemctl start event-worker@whatsapp")
    code, out = playbook("playbooks/smoke.yml")
    assert code == 0, out


def test_the_broker_play_repairs_the_administrator_and_removes_a_returned_guest(host, admin):
    """Both ways the broker role manages its users: the management API when the administrator's
    password is the wanted one (the usual converge), rabbitmqctl when it is not (a rotation)."""
    name = host.ansible.get_variables().get("rabbitmq_server_admin_user", "admin")

    def users():
        return {user["user"]: user for user in json.loads(host.check_output("rabbitmqctl list_users --formatter json"))}

    def permissions():
        return json.loads(host.check_output(f"rabbitmqctl list_user_permissions {name} --formatter json"))

    every = [{"vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}]
    host.check_output(f"rabbitmqctl clear_permissions -p / {name}")
    host.check_output("rabbitmqctl add_user guest probe-guest-password")
    code, out = playbook("playbooks/broker.yml")
    assert code == 0, out[-3000:]
    assert "guest" not in users()
    assert permissions() == every
    # Repaired over the management API: no rabbitmqctl call (an Erlang VM start each).
    assert task_outcomes(out, "Ensure the administrator's tags and permissions over the management API") == ["changed"]
    assert task_outcomes(out, "Delete the guest user") == ["changed", "skipping"]
    assert task_outcomes(out, "List the users") == ["skipping"]

    host.check_output(f"rabbitmqctl change_password {name} probe-other-password")
    code, out = playbook("playbooks/broker.yml")
    assert code == 0, out[-3000:]
    assert task_outcomes(out, "Set the administrator's password") == ["changed"]
    # rabbitmqadmin authenticates with the wanted password (its configuration file).
    assert any(exchange["name"] == "amq.topic" for exchange in admin.json("list exchanges"))
    assert users()[name]["tags"] == ["administrator"]
    assert permissions() == every
