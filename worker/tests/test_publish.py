"""event-publish: confirms, windows, unroutable keys, blocked connections, inputs."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rabbitnode import free_port
from waiting import wait_until

from rabbit_broker import RabbitBroker
from support import EVENT_PUBLISH, Vhost, amqp_url, child_env, run_publish

pytestmark = pytest.mark.broker

ORDER = '{"order_id":123,"event":"order.created"}'


def publish_args(vhost: Vhost, *extra: str, routing_key: str = "order.created") -> list[str]:
    return [
        "--url",
        amqp_url(vhost.broker, vhost.name),
        "--exchange",
        "events",
        "--routing-key",
        routing_key,
        *extra,
    ]


def test_unroutable_routing_key_fails_and_names_the_key(vhost: Vhost) -> None:
    result = run_publish(*publish_args(vhost, ORDER, routing_key="invoice.created"))
    assert result.returncode == 1
    assert "unroutable" in result.stderr
    assert "'invoice.created'" in result.stderr
    assert "published 1, confirmed 0" in result.stderr


def test_windowed_confirms_publish_every_message_with_unique_ids(vhost: Vhost) -> None:
    result = run_publish(*publish_args(vhost, "--count", "500", "--window", "64", ORDER))
    assert result.returncode == 0, result.stderr
    assert "published 500, confirmed 500" in result.stderr
    assert "msgs/s" in result.stderr

    messages = vhost.drain("order.events")
    assert len(messages) == 500
    ids = {m[1].message_id for m in messages}
    assert len(ids) == 500
    for _method, properties, body in messages:
        document = json.loads(body)
        assert document["event_id"] == properties.message_id
        assert document["order_id"] == 123
        assert properties.delivery_mode == 2
        assert properties.content_type == "application/json"
        assert properties.timestamp


def test_window_of_one_and_every_payload_source(vhost: Vhost) -> None:
    payload_file = vhost.workdir / "events.jsonl"
    payload_file.write_text(
        '{"event_id":"f1","order_id":1,"event":"order.created"}\n'
        "\n"
        '{"event_id":"f2","order_id":2,"event":"order.created"}\n'
    )
    pretty = vhost.workdir / "single.json"
    pretty.write_text('{\n  "event_id": "p1",\n  "order_id": 3,\n  "event": "order.created"\n}\n')
    result = run_publish(
        *publish_args(vhost, "--window", "1", "--file", str(payload_file), ORDER, "-"),
        stdin='{"event_id":"s1","order_id":4,"event":"order.created"}\n',
    )
    assert result.returncode == 0, result.stderr
    single = run_publish(*publish_args(vhost, "--quiet", "--file", str(pretty)))
    assert single.returncode == 0, single.stderr
    assert single.stderr == ""

    messages = vhost.drain("order.events")
    ids = [m[1].message_id for m in messages]
    assert len(ids[0]) == 36, "ORDER has no event_id: a uuid4 message_id"
    assert ids[1:] == ["s1", "f1", "f2", "p1"]
    assert messages[0][2] == ORDER.encode(), "a single payload is sent byte for byte"


def test_config_file_connection_uses_the_broker_table(vhost: Vhost) -> None:
    config = vhost.worker_config()
    result = run_publish(
        "--config", str(config), "--exchange", "events", "--routing-key", "order.created", ORDER
    )
    assert result.returncode == 0, result.stderr
    assert vhost.ready_count("order.events") == 1


def test_url_from_the_environment(vhost: Vhost) -> None:
    result = run_publish(
        "--exchange",
        "events",
        "--routing-key",
        "order.created",
        ORDER,
        env={"EVENT_PUBLISH_URL": amqp_url(vhost.broker, vhost.name)},
    )
    assert result.returncode == 0, result.stderr


def test_missing_exchange_fails(vhost: Vhost) -> None:
    args = publish_args(vhost, ORDER)
    args[args.index("events")] = "no-such-exchange"
    result = run_publish(*args)
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr


def test_connection_failure_fails_clearly_without_the_password() -> None:
    url = f"amqp://guest:hunter2-secret@127.0.0.1:{free_port()}/%2F"
    result = run_publish("--url", url, "--routing-key", "x", ORDER)
    assert result.returncode == 1
    assert "cannot connect to the broker" in result.stderr
    assert "hunter2-secret" not in result.stderr


@pytest.mark.parametrize("payload", ["{not json", '{"order_id": NaN, "event": "order.created"}'])
def test_invalid_payload_is_a_usage_error(payload: str) -> None:
    result = run_publish("--url", "amqp://localhost/", "--routing-key", "x", payload)
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr


def alarms(broker: RabbitBroker) -> str:
    return broker.ctl("eval", "rabbit_alarm:get_alarms().")


@contextmanager
def memory_alarm(broker: RabbitBroker) -> Iterator[None]:
    """Raise the broker's memory alarm (a tiny watermark); always restore it."""
    broker.ctl("set_vm_memory_high_watermark", "0.000001")
    try:
        wait_until(
            lambda: "memory" in alarms(broker), timeout=20, interval=0.05, what="memory alarm"
        )
        yield
    finally:
        broker.ctl("set_vm_memory_high_watermark", "0.4")
        wait_until(
            lambda: "memory" not in alarms(broker), timeout=20, interval=0.05, what="alarm cleared"
        )


def test_blocked_connection_is_reported_and_times_out_or_recovers(vhost: Vhost) -> None:
    args = [str(EVENT_PUBLISH), *publish_args(vhost, ORDER)]
    with memory_alarm(vhost.broker):
        timed_out = subprocess.run(
            [*args, "--blocked-timeout", "1.5"],
            capture_output=True,
            text=True,
            timeout=30,
            env=child_env(),
            check=False,
        )
        assert timed_out.returncode == 1
        assert "connection blocked by broker: " in timed_out.stderr
        assert "waiting up to 1.5 s" in timed_out.stderr
        assert "giving up" in timed_out.stderr

        waiting = subprocess.Popen(
            [*args, "--blocked-timeout", "60"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=child_env(),
        )
        lines: list[str] = []
        blocked = threading.Event()

        def read() -> None:
            assert waiting.stderr is not None
            for line in waiting.stderr:
                lines.append(line)
                if "connection blocked by broker" in line:
                    blocked.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert blocked.wait(timeout=20), lines
        except BaseException:
            waiting.kill()
            raise
    # The alarm is cleared: the waiting publisher continues and succeeds.
    assert waiting.wait(timeout=30) == 0
    reader.join(timeout=5)
    stderr = "".join(lines)
    assert "connection unblocked by broker; continuing" in stderr
    assert "published 1, confirmed 1" in stderr
