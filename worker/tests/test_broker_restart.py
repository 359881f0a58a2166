"""A broker restart in the middle of a stream: the worker reconnects by itself, nothing is lost."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import StartWorker
from support import EVENT_PUBLISH, Vhost, amqp_url, child_env, run_publish

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EVENTS = 1000


def publish_args(vhost: Vhost, *, window: int, event_id: str) -> list[str]:
    """event-publish arguments: EVENTS order.created events to `events`, ids EVENT_ID-1..EVENTS."""
    return [
        *("--url", amqp_url(vhost.broker, vhost.name), "--exchange", "events"),
        *("--routing-key", "order.created", "--count", str(EVENTS), "--window", str(window)),
        json.dumps(
            {"event_id": event_id, "order_id": 1, "event": "order.created"}, separators=(",", ":")
        ),
    ]


def test_every_event_is_processed_at_least_once_across_a_broker_restart(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    published = run_publish(*publish_args(vhost, window=100, event_id="restart"))
    assert published.returncode == 0, published.stderr
    assert f"published {EVENTS}, confirmed {EVENTS}" in published.stderr
    expected = {f"restart-{n}" for n in range(1, EVENTS + 1)}

    config = vhost.worker_config(
        options={"work_seconds": 0.05}, overrides={"consumer": {"prefetch": 10}}
    )
    worker = start_worker(config)
    worker.wait_for_events(lambda e: e["outcome"] == "acked", count=100, timeout=30)

    vhost.broker.restart()  # SIGTERM to the node, then a fresh start on the same data dir

    worker.wait_for_line("Reconnected to", timeout=60)
    remaining = set(expected)

    def all_acked(_lines: list[str]) -> bool:
        remaining.difference_update(
            e["event_id"] for e in worker.event_log if e["outcome"] == "acked"
        )
        return not remaining

    worker.wait_for(all_acked, timeout=90, what="every event acked")
    output = worker.output()
    assert "Connection to 127.0.0.1" in output
    assert "lost" in output
    assert "Reconnected to 127.0.0.1" in output
    acked = [e["event_id"] for e in worker.events() if e["outcome"] == "acked"]
    assert set(acked) == expected  # nothing unexpected, nothing missing (duplicates allowed)
    vhost.wait_until_settled("order.events")
    assert worker.process.poll() is None


def test_the_publisher_fails_over_across_a_broker_restart(vhost: Vhost) -> None:
    """A restart mid-stream: event-publish reconnects and republishes what was unconfirmed."""
    publisher = subprocess.Popen(
        [
            str(EVENT_PUBLISH),
            "--failover-timeout",
            "90",
            *publish_args(vhost, window=1, event_id="failover"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(None),
    )
    try:
        vhost.wait_for_messages("order.events", 100, timeout=30)
        vhost.broker.restart()
        _stdout, stderr = publisher.communicate(timeout=120)
    finally:
        if publisher.poll() is None:
            publisher.kill()
    assert publisher.returncode == 0, stderr
    assert f"published {EVENTS}, confirmed {EVENTS}" in stderr
    assert "1 failover(s)" in stderr
    ids = {properties.message_id for _method, properties, _body in vhost.drain("order.events")}
    # At least once: every message is there; a republished one may be there twice.
    assert ids == {f"failover-{n}" for n in range(1, EVENTS + 1)}
