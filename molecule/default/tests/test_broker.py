"""The broker deployed by site.yml, as the tutorial's baseline checks it."""

import json
import socket

import pytest

ADMIN_CONF = "/root/.rabbitmqadmin.conf"


def status(host):
    out = host.check_output("rabbitmq-diagnostics status --formatter json")
    return json.loads(out)


def test_service_enabled_and_running(host):
    service = host.service("rabbitmq-server")
    assert service.is_enabled
    assert service.is_running


def listeners(tls):
    """(listeners the broker must have, listeners it must not have) for the scenario's variant."""
    plain = {(5672, "amqp"), (15672, "http")}
    secure = {(5671, "amqp/ssl"), (15671, "https")}
    always = {(25672, "clustering"), (15692, "http/prometheus")}
    return (always | (secure if tls else plain)), (plain if tls else secure)


def test_listeners(host, tls):
    wanted, unwanted = listeners(tls)
    live = {(item["port"], item["protocol"]) for item in status(host)["listeners"]}
    assert wanted <= live
    assert not unwanted & live
    sockets = host.check_output("ss -Hltn")
    for port, _protocol in wanted:
        assert f":{port} " in sockets
    for port, _protocol in unwanted:
        assert f":{port} " not in sockets


VERIFY_TLS = (
    "python3 -c 'import socket, ssl, sys; "
    'ctx = ssl.create_default_context(cafile="/etc/rabbitmq/tls/ca.pem"); '
    'conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname=sys.argv[2]); '
    "print(conn.version())' {port} {name}"
)


@pytest.mark.parametrize("port", [5671, 15671])
def test_tls_listener_certificate_verifies_against_the_kit_ca(host, tls, port):
    if not tls:
        pytest.skip("plain variant of the scenario (MOLECULE_TLS=true runs this)")
    for name in ("127.0.0.1", host.check_output("hostname")):
        assert host.check_output(VERIFY_TLS.format(port=port, name=name)) in ("TLSv1.3", "TLSv1.2")
    key = host.file("/etc/rabbitmq/tls/key.pem")
    assert (key.user, key.group, key.mode) == ("root", "rabbitmq", 0o640)


def test_the_node_runs_under_the_name_the_kit_wrote(host):
    """rabbit@SHORT-HOSTNAME, written by the kit whatever the package shipped (SUSE: rabbit@localhost)."""
    wanted = "rabbit@" + host.check_output("hostname -s")
    assert f"NODENAME={wanted}" in host.file("/etc/rabbitmq/rabbitmq-env.conf").content_string.splitlines()
    cluster = json.loads(host.check_output(f"rabbitmqctl -n {wanted} cluster_status --formatter json"))
    assert wanted in cluster["running_nodes"]
    # The CLIs read the same file: a bare call reaches the same node, whose data is its own.
    assert status(host)["data_directory"].endswith(f"/{wanted}")


def test_no_alarms(host):
    assert status(host)["alarms"] == []


@pytest.mark.parametrize("plugin", ["rabbitmq_management", "rabbitmq_prometheus"])
def test_plugin_enabled_explicitly(host, plugin):
    enabled = host.check_output("rabbitmq-plugins list --enabled --minimal").split()
    assert plugin in enabled


def test_management_agent_running(host):
    out = host.check_output("rabbitmq-plugins list management")
    assert "[E*] rabbitmq_management " in out
    assert "[e*] rabbitmq_management_agent" in out


def test_rabbitmqadmin_lists_exchanges_as_admin(host):
    assert host.file(ADMIN_CONF).mode == 0o600
    out = host.check_output("rabbitmqadmin list exchanges name type")
    assert out.splitlines()[1].split() == ["|", "name", "|", "type", "|"]
    assert ["|", "amq.topic", "|", "topic", "|"] in [line.split() for line in out.splitlines()]


def test_guest_absent_admin_present(host):
    users = json.loads(host.check_output("rabbitmqctl list_users --formatter json"))
    tags = {user["user"]: user["tags"] for user in users}
    assert "guest" not in tags
    assert tags[host.ansible.get_variables().get("rabbitmq_server_admin_user", "admin")] == ["administrator"]


def test_open_files_limit_in_effect(host):
    configured = int(host.check_output("systemctl show -P LimitNOFILE rabbitmq-server"))
    assert configured == 65536
    drop_ins = host.check_output("systemctl show -P DropInPaths rabbitmq-server")
    assert "/etc/systemd/system/rabbitmq-server.service.d/limits.conf" in drop_ins
    # The running broker has the limit, capped by the container's own hard
    # ceiling (a sandbox may not allow raising it to 65536; see README).
    pid = host.check_output("systemctl show -P MainPID rabbitmq-server")
    ceiling = int(host.check_output("sh -c 'ulimit -Hn'"))
    line = next(
        row for row in host.file(f"/proc/{pid}/limits").content_string.splitlines() if row.startswith("Max open files")
    )
    assert int(line.split()[3]) == min(configured, ceiling)


def test_memory_watermark_in_effect(host):
    wanted = host.ansible.get_variables()["rabbitmq_server_vm_memory_high_watermark"]
    assert status(host)["vm_memory_high_watermark_setting"] == {"relative": wanted}


def test_testqueue_round_trip(host):
    """The tutorial's baseline: declare, publish through amq.default, get 'hello world'."""
    try:
        assert host.check_output("rabbitmqadmin declare queue name=testqueue durable=false") == "queue declared"
        assert (
            host.check_output("rabbitmqadmin publish exchange=amq.default routing_key=testqueue payload='hello world'")
            == "Message published"
        )
        rows = json.loads(host.check_output("rabbitmqadmin -f raw_json get queue=testqueue ackmode=ack_requeue_false"))
        assert len(rows) == 1
        assert rows[0]["routing_key"] == "testqueue"
        assert rows[0]["payload"] == "hello world"
        assert rows[0]["payload_bytes"] == 11
        assert rows[0]["redelivered"] is False
    finally:
        host.run("rabbitmqadmin delete queue name=testqueue")


@pytest.fixture
def firewalld(host):
    if not host.ansible.get_variables().get("rabbitmq_server_firewalld", False):
        pytest.skip("this scenario runs without firewalld (rabbitmq_server_firewalld: false)")


def test_firewalld_opens_each_port_to_its_sources_only(host, tls, firewalld):
    rules = host.check_output("firewall-cmd --zone public --list-rich-rules").splitlines()
    amqp, management = (5671, 15671) if tls else (5672, 15672)
    assert f'rule family="ipv4" source address="192.0.2.0/24" port port="{management}" protocol="tcp" accept' in rules
    assert any(f'port port="{amqp}" protocol="tcp" accept' in rule for rule in rules)
    assert not any('port="15692"' in rule for rule in rules)


def test_management_ui_is_closed_to_other_addresses(host, tls, firewalld):
    """The controller is not in the UI's sources: its connection is refused by firewalld."""
    ip = host.check_output("hostname -I").split()[0]
    port = 15671 if tls else 15672
    scheme = "https" if tls else "http"
    assert host.run(f"curl -ks -o /dev/null --max-time 5 {scheme}://127.0.0.1:{port}/").rc == 0  # loopback is trusted
    with socket.socket() as probe:
        probe.settimeout(5)
        assert probe.connect_ex((ip, port)) != 0
