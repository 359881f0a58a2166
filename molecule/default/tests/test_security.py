"""Least privilege end to end, and secrets that never leak."""

import json
import stat

import pytest
from kit_testing import playbook

PROBE = "/root/kit-permission-probe.py"
PROBE_CODE = r"""
import ssl, sys
import pika
user, password, action, target, tls = sys.argv[1:6]
params = {"host": "127.0.0.1", "credentials": pika.PlainCredentials(user, password)}
if tls == "true":
    context = ssl.create_default_context(cafile="/etc/event-worker/ca.pem")
    params.update(port=5671, ssl_options=pika.SSLOptions(context, "127.0.0.1"))
connection = pika.BlockingConnection(pika.ConnectionParameters(**params))
channel = connection.channel()
try:
    if action == "consume":
        channel.basic_get(target, auto_ack=False)
    elif action == "publish":
        channel.basic_publish(target, "permission.probe", b"{}")
        channel.basic_qos(prefetch_count=1)  # a round trip: a refused publish closes the channel first
    elif action == "declare":
        channel.queue_declare("kit.permission.probe", auto_delete=True)
    print("allowed")
except pika.exceptions.ChannelClosedByBroker as error:
    print(f"refused {error.reply_code}")
connection.close()
"""


@pytest.fixture(scope="module")
def secrets(host):
    variables = host.ansible.get_variables()
    return {
        "admin": variables["rabbitmq_server_admin_password"],
        **variables["event_worker_passwords"],
        **variables["rabbitmq_topology_publisher_passwords"],
    }


@pytest.fixture(scope="module")
def probe(host, secrets, tls):
    host.check_output(f"cat > {PROBE} <<'EOF'\n{PROBE_CODE}\nEOF")

    def run(user, action, target):
        return host.check_output(
            f"/opt/event-worker/venv/bin/python {PROBE} {user} {secrets[user]} {action} {target} {str(tls).lower()}"
        )

    yield run
    host.run(f"rm -f {PROBE}")


@pytest.mark.parametrize(
    ("user", "action", "target", "outcome"),
    [
        ("orders", "consume", "order.events", "allowed"),
        ("orders", "consume", "whatsapp.notifications", "refused 403"),
        ("orders", "publish", "events", "refused 403"),
        ("orders", "declare", "-", "refused 403"),
        ("whatsapp", "consume", "order.events", "refused 403"),
        ("publisher", "publish", "events", "allowed"),
        ("publisher", "publish", "notifications", "allowed"),
        ("publisher", "publish", "amq.topic", "refused 403"),
        ("publisher", "consume", "order.events", "refused 403"),
        ("publisher", "declare", "-", "refused 403"),
    ],
)
def test_each_user_can_do_only_its_job(probe, paused_workers, user, action, target, outcome):
    assert probe(user, action, target) == outcome


def test_publisher_user_has_write_only_permissions(host):
    perms = json.loads(host.check_output("rabbitmqctl list_user_permissions publisher --formatter json"))
    assert perms == [{"vhost": "/", "configure": "^$", "read": "^$", "write": "^(events|notifications)$"}]


def test_clients_use_their_own_users_not_the_admin(host, tls):
    rows = json.loads(host.check_output("rabbitmqctl list_connections user ssl --formatter json"))
    users = {row["user"] for row in rows}
    assert {"orders", "whatsapp"} <= users
    assert "admin" not in users
    assert all(row["ssl"] is tls for row in rows)


@pytest.mark.parametrize(
    ("path", "owner", "group", "mode"),
    [
        ("/root/.rabbitmqadmin.conf", "root", "root", 0o600),
        ("/etc/event-worker/publisher.password", "root", "root", 0o600),
        ("/etc/event-worker/publish.toml", "root", "root", 0o600),
        ("/etc/event-worker/orders.password", "root", "event-worker", 0o640),
        ("/etc/event-worker/whatsapp.password", "root", "event-worker", 0o640),
        ("/etc/rabbitmq/rabbitmq.conf", "root", "rabbitmq", 0o640),
    ],
)
def test_files_holding_secrets_are_0640_or_tighter(host, path, owner, group, mode):
    f = host.file(path)
    assert (f.user, f.group, f.mode) == (owner, group, mode)


def test_no_secret_in_a_world_readable_file(host, secrets):
    patterns = " ".join(f"-e {value}" for value in secrets.values())
    found = host.run(f"grep -rlsF {patterns} /etc /opt /var /root /home /tmp /run /srv").stdout.split()
    for path in found:
        assert not host.file(path).mode & stat.S_IROTH, f"{path} holds a secret and is world-readable"


def test_no_secret_in_the_journal(host, secrets):
    journal = host.check_output("journalctl --output cat --no-pager")
    for name, value in secrets.items():
        assert value not in journal, f"the {name} password is in the journal"


def test_no_secret_in_the_ansible_output(secrets):
    code, out = playbook("site.yml", "--diff", timeout=900)
    assert code == 0, out[-3000:]
    for name, value in secrets.items():
        assert value not in out, f"the {name} password is in the ansible-playbook output"
