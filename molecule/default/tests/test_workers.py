"""The event workers deployed by the event_worker role, as systemd units."""

import json
import re
import time

import pytest
from kit_testing import wait_until

UNITS = {"orders": "order.events", "whatsapp": "whatsapp.notifications", "payments": "payment.events"}
CONF_DIR = "/etc/event-worker"


def consumers(host):
    rows = json.loads(host.check_output("rabbitmqctl list_queues name consumers --formatter json"))
    return {row["name"]: row["consumers"] for row in rows}


def journal(host, unit, since):
    return host.check_output(f"journalctl --output cat --unit event-worker@{unit} --since @{since:.0f} --no-pager")


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_enabled_running_and_notify(host, unit):
    service = host.service(f"event-worker@{unit}")
    assert service.is_enabled
    assert service.is_running
    props = host.check_output(f"systemctl show event-worker@{unit} -p Type -p Restart -p WatchdogUSec -p User")
    assert "Type=notify" in props
    assert "Restart=on-failure" in props
    assert "WatchdogUSec=30s" in props
    assert "User=event-worker" in props


def test_one_consumer_per_process_on_each_queue(host):
    live = wait_until(lambda: consumers(host) if consumers(host)["order.events"] == 1 else None, timeout=30)
    assert live["order.events"] == 1
    assert live["whatsapp.notifications"] == 1
    assert live["payment.events"] == 1


@pytest.mark.parametrize("unit", UNITS)
def test_security_exposure_at_most_2(host, unit):
    # Only the emulated arm64 scenario allows more (see its molecule.yml).
    limit = float(host.ansible.get_variables().get("molecule_max_security_exposure", 2.0))
    out = host.check_output(f"systemd-analyze security --no-pager event-worker@{unit}.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert exposure <= limit, out


@pytest.mark.parametrize("unit", UNITS)
def test_secrets_and_configuration_are_not_world_readable(host, unit):
    for path in (f"{CONF_DIR}/{unit}.toml", f"{CONF_DIR}/{unit}.password"):
        f = host.file(path)
        assert f.user == "root"
        assert f.group == "event-worker"
        assert f.mode == 0o640


@pytest.mark.parametrize(("unit", "queue"), UNITS.items())
def test_worker_user_has_least_privilege(host, unit, queue):
    perms = json.loads(host.check_output(f"rabbitmqctl list_user_permissions {unit} --formatter json"))
    writes = f"^({re.escape(queue + '.dlx')}|{re.escape(queue + '.retry')})$"
    assert perms == [{"vhost": "/", "configure": "^$", "read": f"^{re.escape(queue)}$", "write": writes}]


def test_orders_worker_logs_the_tutorials_lines(host):
    since = time.time() - 1
    host.check_output(
        "rabbitmqadmin publish exchange=events routing_key=order.created "
        """payload='{"order_id":123,"event":"order.created"}'"""
    )
    out = wait_until(
        lambda: (lambda text: text if "[Worker] Event processed successfully" in text else None)(
            journal(host, "orders", since)
        ),
        timeout=30,
        what="the orders worker's log lines",
    )
    lines = out.splitlines()
    start = lines.index("[Worker] Received event: {'order_id': 123, 'event': 'order.created'}")
    assert lines[start + 1] == "[Worker] Processing event type: order.created"
    assert "[Worker] Event processed successfully" in lines[start + 2 :]


def test_whatsapp_worker_logs_the_tutorials_lines(host):
    since = time.time() - 1
    host.check_output(
        "rabbitmqadmin publish exchange=notifications routing_key=whatsapp "
        """payload='{"phone":"+911234567890","message":"Hello from RabbitMQ"}'"""
    )
    out = wait_until(
        lambda: (lambda text: text if "sent successfully" in text else None)(journal(host, "whatsapp", since)),
        timeout=30,
        what="the whatsapp worker's log lines",
    )
    lines = out.splitlines()
    start = lines.index("[Worker] Processing WhatsApp notification")
    assert lines[start : start + 4] == [
        "[Worker] Processing WhatsApp notification",
        "[Worker] Recipient: +911234567890",
        "[Worker] Message: Hello from RabbitMQ",
        "[Worker] WhatsApp notification sent successfully",
    ]


def test_poison_message_is_dead_lettered_with_reason_and_worker_keeps_going(host, admin):
    since = time.time() - 1
    admin.run("publish exchange=events routing_key=order.created payload='not json'")
    dead = wait_until(lambda: admin.get("order.events.dlq"), timeout=30, what="the poison message in order.events.dlq")
    assert dead[0]["payload"] == "not json"
    assert dead[0]["properties"]["headers"]["x-dead-letter-reason"].startswith("invalid_json")
    admin.publish("events", "order.updated", {"order_id": 7, "event": "order.updated"})
    wait_until(
        lambda: "[Worker] Processing event type: order.updated" in journal(host, "orders", since),
        timeout=30,
        what="the next event processed",
    )
    assert host.service("event-worker@orders").is_running


def test_metrics_on_loopback(host):
    out = host.check_output("curl -sf http://127.0.0.1:9101/metrics")
    assert "event_worker_acked_total" in out
    listening = host.check_output("ss -Hltn")
    assert "127.0.0.1:9101 " in listening


def test_killed_worker_is_restarted(host):
    def state():
        out = host.check_output("systemctl show event-worker@orders -p NRestarts -p ActiveState -p SubState")
        return dict(line.split("=", 1) for line in out.splitlines())

    before = int(state()["NRestarts"])
    host.check_output("systemctl kill -s KILL event-worker@orders")
    wait_until(
        lambda: int(state()["NRestarts"]) == before + 1 and state()["SubState"] == "running",
        timeout=60,
        what="event-worker@orders restarted",
    )
    wait_until(lambda: consumers(host)["order.events"] == 1, timeout=60, what="the consumer back")
