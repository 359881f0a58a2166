"""A three-node cluster with quorum queues, proven under node failure and a rolling restart."""

import json
import time

import pytest
from conftest import BROKERS
from kit_testing import journal_text, playbook, wait_until

# The scenario's tests run once, from the controller; they reach each host themselves.
testinfra_hosts = ["ansible://cluster-rabbit-1"]

WORK_QUEUES = ["order.events", "whatsapp.notifications"]
PUBLISHER = "/opt/event-worker/venv/bin/event-publish"
EVENTS = 5000


def ctl_json(broker, *args):
    return json.loads(broker.check_output("rabbitmqctl " + " ".join(args) + " --formatter json"))


def running_nodes(broker):
    return sorted(ctl_json(broker, "cluster_status")["running_nodes"])


def queues(broker):
    rows = ctl_json(broker, "list_queues name type leader members online")
    return {row["name"]: row for row in rows}


def test_cluster_has_three_running_nodes(brokers):
    for broker in brokers.values():
        assert running_nodes(broker) == [f"rabbit@{name}" for name in BROKERS]


@pytest.mark.parametrize("queue", [*WORK_QUEUES, *(f"{q}.dlq" for q in WORK_QUEUES)])
def test_worker_queues_are_quorum_queues_with_three_members(brokers, queue):
    row = queues(brokers[BROKERS[0]])[queue]
    assert row["type"] == "quorum"
    assert sorted(row["members"]) == [f"rabbit@{name}" for name in BROKERS]


def test_delivery_limit_bounds_redeliveries(brokers):
    rows = ctl_json(brokers[BROKERS[0]], "list_queues name effective_policy_definition")
    policy = {row["name"]: dict(row["effective_policy_definition"]) for row in rows}
    assert policy["order.events"]["delivery-limit"] == 20
    # The dead-letter exchange follows from the name: fixed at declaration, as an argument.
    rows = ctl_json(brokers[BROKERS[0]], "list_queues name arguments")
    arguments = {row["name"]: {key: value for key, _, value in row["arguments"]} for row in rows}
    assert arguments["order.events"]["x-dead-letter-exchange"] == "order.events.dlx"


def test_erlang_cookie_is_private(brokers):
    for broker in brokers.values():
        cookie = broker.file("/var/lib/rabbitmq/.erlang.cookie")
        assert cookie.user == "rabbitmq"
        assert cookie.mode == 0o400


def test_erlang_cookie_is_on_no_command_line_and_in_no_log(brokers):
    cookie = brokers[BROKERS[0]].ansible.get_variables()["rabbitmq_server_erlang_cookie"]
    for name, broker in brokers.items():
        cmdlines = broker.run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout
        assert "beam.smp" in cmdlines, name
        assert cookie not in cmdlines, f"the Erlang cookie is on a command line on {name}"
        assert cookie not in journal_text(broker), f"the Erlang cookie is in the journal of {name}"


def test_workers_fail_over_list_names_every_broker(worker):
    conf = worker.file("/etc/event-worker/orders.toml").content_string
    hosts_line = next(line for line in conf.splitlines() if line.startswith("hosts = "))
    assert len(json.loads(hosts_line.split("=", 1)[1])) == 3


# -- the stream: event-publish on the worker host, counted in the orders worker's journal ------


@pytest.fixture(scope="module")
def publisher_config(worker, brokers):
    """A publisher configuration on the worker host listing every broker."""
    password = worker.ansible.get_variables()["rabbitmq_server_admin_password"]
    worker.check_output(
        f"install -m 0600 /dev/null /root/publish.password && printf %s {password} > /root/publish.password"
    )

    def write(first_hosts):
        addresses = [brokers[name].interface("eth0").addresses[0] for name in first_hosts]
        body = "[broker]\n" + f"hosts = {json.dumps([f'{a}:5672' for a in addresses])}\n"
        body += 'username = "admin"\npassword_file = "/root/publish.password"\n'
        worker.check_output(f"printf '%s' '{body}' > /root/publish.toml")
        return "/root/publish.toml"

    return write


def start_stream(worker, name, config, prefix, window):
    """Publish EVENTS confirmed events as a transient unit; returns its start time."""
    worker.run(f"systemctl stop {name}; systemctl reset-failed {name}")
    since = time.time() - 1
    payload = json.dumps({"event_id": prefix, "order_id": 1, "event": "order.created"})
    worker.check_output(
        f"systemd-run --unit {name} -p RemainAfterExit=yes {PUBLISHER} --config {config} "
        f"--exchange events --routing-key order.created --count {EVENTS} --window {window} "
        f"--failover-timeout 120 '{payload}'"
    )
    return since


def stream_result(worker, name):
    """(exit status, the publisher's summary) once the transient unit has finished."""
    wait_until(
        lambda: worker.check_output(f"systemctl show -P SubState {name}") in ("exited", "failed"),
        timeout=300,
        interval=1,
        what=f"{name} to finish",
    )
    status = int(worker.check_output(f"systemctl show -P ExecMainStatus {name}"))
    log = worker.check_output(f"journalctl --output cat --unit {name} --no-pager")
    return status, log


def streamed(worker, name, prefix, since, count):
    """True once the orders worker acked `count` events of the stream; fails if the stream failed."""
    if worker.check_output(f"systemctl show -P SubState {name}") == "failed":
        log = worker.check_output(f"journalctl --output cat --unit {name} --no-pager")
        raise AssertionError(f"{name} failed:\n{log}")
    return len(processed(worker, prefix, since)) >= count


def processed(worker, prefix, since):
    """event_id -> how many times the orders worker acked it."""
    out = worker.check_output(f"journalctl --output cat --unit event-worker@orders --since @{since:.0f} --no-pager")
    counts = {}
    for line in out.splitlines():
        if line.startswith("{") and f'"{prefix}-' in line:
            event = json.loads(line)
            if event["outcome"] == "acked":
                counts[event["event_id"]] = counts.get(event["event_id"], 0) + 1
    return counts


def expect_all_processed(worker, prefix, since):
    expected = {f"{prefix}-{n}" for n in range(1, EVENTS + 1)}
    counts = wait_until(
        lambda: (lambda seen: seen if expected <= set(seen) else None)(processed(worker, prefix, since)),
        timeout=300,
        interval=2,
        what=f"all {EVENTS} {prefix} events processed",
    )
    duplicates = sum(n - 1 for n in counts.values())
    print(f"{prefix}: {len(expected)} confirmed events, all processed, {duplicates} processed twice or more")
    assert set(counts) == expected


def test_node_failure_loses_no_confirmed_event(brokers, worker, publisher_config):
    leader = queues(brokers[BROKERS[0]])["order.events"]["leader"].split("@")[1]
    others = [name for name in BROKERS if name != leader]
    config = publisher_config([*others, leader])  # the publisher starts on a node that stays up
    since = start_stream(worker, "kit-stream-failure", config, "failure", window=10)
    try:
        wait_until(
            lambda: streamed(worker, "kit-stream-failure", "failure", since, 500), timeout=120, what="500 events in"
        )
        brokers[leader].check_output("systemctl stop rabbitmq-server")
        status, log = stream_result(worker, "kit-stream-failure")
        assert status == 0, log
        assert f"published {EVENTS}, confirmed {EVENTS}" in log
        expect_all_processed(worker, "failure", since)
    finally:
        brokers[leader].check_output("systemctl start rabbitmq-server")
    # The stopped node comes back by itself and rejoins with its queue members.
    survivor = brokers[others[0]]
    wait_until(lambda: len(running_nodes(survivor)) == 3, timeout=180, what=f"{leader} to rejoin")
    wait_until(
        lambda: all(len(row["online"]) == 3 for name, row in queues(survivor).items() if name in WORK_QUEUES),
        timeout=180,
        what="every member of the work queues online",
    )


def test_rolling_restart_with_the_stream_going_loses_nothing(brokers, worker, publisher_config):
    config = publisher_config(BROKERS)
    since = start_stream(worker, "kit-stream-rolling", config, "rolling", window=1)
    wait_until(lambda: streamed(worker, "kit-stream-rolling", "rolling", since, 200), timeout=120, what="200 events in")
    code, out = playbook("playbooks/rolling-restart.yml", timeout=900)
    assert code == 0, out
    status, log = stream_result(worker, "kit-stream-rolling")
    assert status == 0, log
    assert f"published {EVENTS}, confirmed {EVENTS}" in log
    expect_all_processed(worker, "rolling", since)
    assert running_nodes(brokers[BROKERS[0]]) == [f"rabbit@{name}" for name in BROKERS]
