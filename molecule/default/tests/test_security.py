"""Least privilege end to end, and secrets that never leak."""

import json
import re
import stat

import pytest
from kit_testing import journal_text, playbook, wait_until

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
def passwords(host):
    variables = host.ansible.get_variables()
    return {
        "admin": variables["rabbitmq_server_admin_password"],
        **variables["event_worker_passwords"],
        **variables["rabbitmq_topology_publisher_passwords"],
    }


@pytest.fixture(scope="module")
def secrets(host, passwords, tls):
    """Every secret the kit puts on this host: the passwords and, with TLS, a line of the private key."""
    found = dict(passwords)
    if tls:
        key_lines = host.file("/etc/rabbitmq/tls/key.pem").content_string.splitlines()
        found["TLS key"] = key_lines[len(key_lines) // 2]
    return found


@pytest.fixture(scope="module")
def probe(host, passwords, tls):
    host.check_output(f"cat > {PROBE} <<'EOF'\n{PROBE_CODE}\nEOF")

    def run(user, action, target):
        return host.check_output(
            f"/opt/event-worker/venv/bin/python {PROBE} {user} {passwords[user]} {action} {target} {str(tls).lower()}"
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


PATTERNS = "/root/kit-secret-patterns"
LEAKS = "/root/kit-secret-leaks"
# Reads every process's command line, again and again, and keeps each argument
# that holds a secret. The secrets come from a root-only file, never from its
# own command line; it stops when that file goes.
SAMPLER = (
    f"while [ -e {PATTERNS} ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' "
    f"| grep -F -f {PATTERNS} >> {LEAKS}; sleep 0.05; done"
)
CANARY = "kit-sampler-canary-8f2c"


# The workers' metrics endpoints (event_worker_metrics_port_base, 10 apart).
WORKER_METRICS = {"orders": 9101, "whatsapp": 9111, "payments": 9121}
LIVE_QUEUES = {"orders": "order.events", "whatsapp": "whatsapp.notifications", "payments": "payment.events"}


def delivered(host):
    """Each worker's event_worker_delivered_total: every delivery its process has received."""
    counts = {}
    for name, port in WORKER_METRICS.items():
        out = host.check_output(f"curl -sf http://127.0.0.1:{port}/metrics")
        line = next(line for line in out.splitlines() if line.startswith("event_worker_delivered_total{"))
        counts[name] = float(line.rsplit(" ", 1)[1])
    return counts


def live_state(host):
    """What a converge must not change: the workers' processes, their counters, the queues' depths."""
    pids = {name: host.service(f"event-worker@{name}").systemd_properties["MainPID"] for name in WORKER_METRICS}
    depths = json.loads(host.check_output("rabbitmqctl list_queues name messages --formatter json"))
    return {
        "pids": pids,
        "delivered": delivered(host),
        "depths": {row["name"]: row["messages"] for row in depths if row["name"] in LIVE_QUEUES.values()},
    }


@pytest.fixture(scope="module")
def watched_converge(host, secrets):
    """site.yml at -vvv --diff on the running deployment, while a sampler on the host
    reads every process's command line.

    Returns (exit code, Ansible's output, the command-line arguments that held a
    secret, the live state before and after, the time it started).
    """
    wait_until(
        lambda: all(host.service(f"event-worker@{n}").is_running for n in WORKER_METRICS),
        timeout=60,
        what="the workers running",
    )
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    before = live_state(host)
    values = "\n".join([*secrets.values(), CANARY])
    host.check_output(f"umask 077; rm -f {LEAKS}; printf '%s\\n' '{values}' > {PATTERNS}")
    host.check_output(f'umask 077; nohup sh -c "{SAMPLER}" >/dev/null 2>&1 &')
    # The sampler must catch a secret on a command line: a process that carries the canary.
    host.check_output(f"nohup sh -c 'sleep 4' {CANARY} >/dev/null 2>&1 &")
    wait_until(lambda: CANARY in host.run(f"cat {LEAKS}").stdout, timeout=30, what="the sampler to catch its canary")
    try:
        code, out = playbook("site.yml", "--diff", "-vvv", timeout=1200)
    finally:
        host.run(f"rm -f {PATTERNS}")
    leaks = sorted({line for line in host.run(f"cat {LEAKS}").stdout.splitlines() if line != CANARY})
    host.run(f"rm -f {LEAKS}")
    return code, out, leaks, (before, live_state(host)), since


def test_a_second_converge_changes_nothing(watched_converge):
    """The scenario's idempotence check (molecule's own step is left out of its sequence: this
    converge is one the tests need anyway; conftest.py runs it before any other test)."""
    code, out, *_ = watched_converge
    assert code == 0, out[-3000:]
    recap = dict(re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)", out, re.MULTILINE))
    assert recap, out[-3000:]
    changed = {host: int(count) for host, count in recap.items() if count != "0"}
    assert not changed, f"site.yml changed something on an unchanged deployment: {changed}\n{out[-3000:]}"


def test_no_secret_on_a_command_line_during_a_converge(watched_converge, secrets):
    code, out, leaks, _live, _since = watched_converge
    assert code == 0, out[-3000:]
    named = [name for name, value in secrets.items() if any(value in leak for leak in leaks)]
    assert not named, f"seen on a command line during site.yml: {named}"


def test_no_secret_in_the_ansible_output_at_vvv(watched_converge, secrets):
    code, out, *_ = watched_converge
    assert code == 0, out[-3000:]
    for name, value in secrets.items():
        assert value not in out, f"the {name} secret is in the ansible-playbook -vvv --diff output"


def test_no_secret_in_any_field_of_the_journal(host, secrets, watched_converge):
    """After converges (molecule's, and one more under the sampler): _CMDLINE, MESSAGE, every field."""
    text = journal_text(host)
    assert "_CMDLINE" in host.check_output("journalctl --output json --no-pager --lines 50")
    for name, value in secrets.items():
        assert value not in text, f"the {name} secret is in the journal"


def test_a_converge_leaves_the_live_workers_and_queues_alone(host, admin, watched_converge):
    """site.yml's smoke test proves the routing in a sandbox vhost: the workers receive nothing."""
    code, out, _leaks, (before, after), since = watched_converge
    assert code == 0, out[-3000:]
    assert "kit-smoke" in out, "the smoke test did not run in its sandbox vhost"
    assert after == before
    assert "kit-smoke" not in admin.run("list vhosts name")
    journal = host.check_output(f"journalctl --output cat --unit 'event-worker@*' --since '{since}' --no-pager")
    assert "smoke-" not in journal
    # The counters are live: one event per queue shows as exactly one more delivery.
    admin.publish("events", "order.created", {"order_id": 1, "event": "order.created"})
    admin.publish("notifications", "whatsapp", {"phone": "+911234567890", "message": "counter probe"})
    admin.publish("events", "payment.captured", {"payment_id": "counter-probe", "amount": 1})
    expected = {name: count + 1 for name, count in after["delivered"].items()}
    wait_until(lambda: delivered(host) == expected, timeout=30, what=f"deliveries to reach {expected}")
