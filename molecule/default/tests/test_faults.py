"""The broker keeps every accepted message through a restart and a resource alarm."""

import json
import time

from kit_testing import wait_until

PUBLISH = "/opt/event-worker/venv/bin/event-publish --config /etc/event-worker/publish.toml"
WORKERS = ["event-worker@orders", "event-worker@whatsapp"]
QUEUED = 10_000


def depth(host, queue):
    rows = json.loads(host.check_output("rabbitmqctl list_queues name messages --formatter json"))
    return {row["name"]: row["messages"] for row in rows}[queue]


def acked_ids(host, prefix, since):
    out = host.check_output(f"journalctl --output cat --unit event-worker@orders --since @{since:.0f} --no-pager")
    return {
        event["event_id"]
        for event in (json.loads(line) for line in out.splitlines() if line.startswith("{") and f'"{prefix}-' in line)
        if event["outcome"] == "acked"
    }


def test_restart_keeps_every_queued_message_and_the_workers_process_them(host):
    since = time.time() - 1
    host.check_output("systemctl stop " + " ".join(WORKERS))
    try:
        payload = json.dumps({"event_id": "queued", "order_id": 1, "event": "order.created"})
        out = host.run(
            f"{PUBLISH} --exchange events --routing-key order.created --count {QUEUED} --window 200 '{payload}'"
        )
        assert out.rc == 0, out.stderr
        assert f"published {QUEUED}, confirmed {QUEUED}" in out.stderr
        assert depth(host, "order.events") == QUEUED

        host.check_output("systemctl restart rabbitmq-server")
        host.check_output("rabbitmqctl --timeout 180 await_startup")
        assert depth(host, "order.events") == QUEUED
    finally:
        host.check_output("systemctl start " + " ".join(WORKERS))
    expected = {f"queued-{n}" for n in range(1, QUEUED + 1)}
    wait_until(lambda: acked_ids(host, "queued", since) >= expected, timeout=300, interval=2, what="every event")
    wait_until(lambda: depth(host, "order.events") == 0, timeout=60, what="order.events drained")
    assert depth(host, "order.events.dlq") == 0


def test_memory_alarm_blocks_publishers_clearly_and_traffic_resumes(host):
    watermark = host.ansible.get_variables()["rabbitmq_server_vm_memory_high_watermark"]
    payload = json.dumps({"event_id": "alarm", "order_id": 2, "event": "order.created"})
    unit = "kit-blocked-publish"
    host.run(f"systemctl stop {unit}; systemctl reset-failed {unit}")
    host.check_output("rabbitmqctl set_vm_memory_high_watermark 0.0000001")
    try:
        wait_until(
            lambda: json.loads(host.check_output("rabbitmq-diagnostics status --formatter json"))["alarms"],
            timeout=30,
            what="the memory alarm",
        )
        # Gives up after its blocked timeout, saying why, instead of hanging silently.
        impatient = host.run(f"{PUBLISH} --exchange events --routing-key order.created --blocked-timeout 3 '{payload}'")
        assert impatient.rc != 0
        assert "connection blocked by broker" in impatient.stderr
        # A patient publisher waits, then gets through when the alarm clears.
        host.check_output(
            f"systemd-run --unit {unit} -p RemainAfterExit=yes {PUBLISH} --exchange events "
            f"--routing-key order.created --blocked-timeout 120 '{payload}'"
        )
        wait_until(
            lambda: "connection blocked by broker" in host.check_output(f"journalctl -o cat -u {unit} --no-pager"),
            timeout=30,
            what="the patient publisher to report the block",
        )
    finally:
        host.check_output(f"rabbitmqctl set_vm_memory_high_watermark {watermark}")
    wait_until(
        lambda: host.check_output(f"systemctl show -P SubState {unit}") in ("exited", "failed"),
        timeout=60,
        what="the patient publisher to finish",
    )
    assert host.check_output(f"systemctl show -P ExecMainStatus {unit}") == "0"
    log = host.check_output(f"journalctl -o cat -u {unit} --no-pager")
    assert "connection unblocked by broker" in log
    assert "published 1, confirmed 1" in log
