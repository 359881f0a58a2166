"""Helpers shared by the scenario's testinfra tests."""

import json
import time

import pytest


def wait_until(predicate, timeout=30.0, interval=0.5, message="condition"):
    """Poll predicate() until it returns a truthy value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class Admin:
    """rabbitmqadmin on the broker host, as root (credentials in /root/.rabbitmqadmin.conf)."""

    def __init__(self, host):
        self.host = host

    def run(self, *args):
        return self.host.check_output("rabbitmqadmin " + " ".join(args))

    def json(self, *args):
        return json.loads(self.run("-f raw_json", *args))

    def publish(self, exchange, routing_key, payload):
        return self.run(
            f"publish exchange={exchange} routing_key={routing_key} "
            f"payload='{json.dumps(payload)}' properties='{{\"delivery_mode\": 2}}'"
        )

    def get(self, queue, count=1, ackmode="ack_requeue_false"):
        return self.json(f"get queue={queue} count={count} ackmode={ackmode}")

    def depth(self, queue):
        out = self.host.check_output("rabbitmqctl list_queues name messages --formatter json")
        return {row["name"]: row["messages"] for row in json.loads(out)}[queue]


@pytest.fixture
def admin(host):
    return Admin(host)


@pytest.fixture
def paused_workers(host):
    """Stop the event workers for the test, so it can read the queues itself."""
    units = host.check_output(
        "systemctl list-units --plain --no-legend --state=active 'event-worker@*' | awk '{print $1}'"
    ).split()
    for unit in units:
        host.check_output(f"systemctl stop {unit}")
    yield
    for unit in units:
        host.check_output(f"systemctl start {unit}")
