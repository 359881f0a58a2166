"""Process-level behaviour of event-worker: crashes, signals, heartbeats, concurrency, systemd,
metrics, and a topology that is not there yet."""

from __future__ import annotations

import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from rabbitnode import free_port
from waiting import wait_until

from conftest import StartWorker
from support import Vhost
from topology import ORDERS, WorkQueue, add_policies, declare_work_queue

pytestmark = pytest.mark.broker

RECEIVED = "[Worker] Received event:"
DONE = "[Worker] Event processed successfully"


def test_kill_9_during_processing_redelivers_to_a_restarted_worker(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    slow = start_worker(vhost.worker_config(options={"work_seconds": 30.0}, filename="slow.toml"))
    vhost.publish(
        "events", "order.created", {"order_id": 1, "event": "order.created"}, message_id="k9"
    )
    slow.wait_for_line(RECEIVED)
    slow.kill()
    assert slow.wait(timeout=10) == -signal.SIGKILL
    assert DONE not in slow.output()

    fast = start_worker(vhost.worker_config(options={"work_seconds": 0.0}, filename="fast.toml"))
    (event,) = fast.wait_for_events(lambda e: e["event_id"] == "k9" and e["outcome"] == "acked")
    assert event["routing_key"] == "order.created"
    vhost.wait_until_settled("order.events")


def test_sigterm_lets_the_in_flight_event_finish_and_acks_it_before_exit(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config(options={"work_seconds": 1.5}))
    vhost.publish(
        "events", "order.created", {"order_id": 2, "event": "order.created"}, message_id="t1"
    )
    worker.wait_for_line(RECEIVED)
    worker.terminate()

    assert worker.wait(timeout=20) == 0
    lines = worker.snapshot()
    shutdown = next(i for i, line in enumerate(lines) if "Received SIGTERM" in line)
    done = lines.index(DONE)
    acked = next(i for i, line in enumerate(lines) if '"outcome": "acked"' in line)
    stopped = lines.index("Worker stopped")
    assert shutdown < done < acked < stopped
    vhost.wait_until_settled("order.events")


def test_sigint_with_nothing_in_flight_exits_cleanly(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config())
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=15) == 0
    assert "Worker stopped" in worker.snapshot()


def test_shutdown_timeout_gives_up_on_a_stuck_handler_without_acking_it(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    config = vhost.worker_config(
        options={"work_seconds": 60.0}, overrides={"consumer": {"shutdown_timeout": 0.5}}
    )
    worker = start_worker(config)
    vhost.publish("events", "order.created", {"order_id": 3, "event": "order.created"})
    worker.wait_for_line(RECEIVED)
    worker.terminate()
    assert worker.wait(timeout=15) == 1
    assert DONE not in worker.output()
    assert "Shutdown timeout" in worker.output()
    # Not acked: back in the queue for the next worker.
    vhost.wait_for_messages("order.events", 1, timeout=10)


def test_a_handler_longer_than_three_heartbeats_keeps_the_connection(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    config = vhost.worker_config(
        options={"work_seconds": 4.0}, overrides={"broker": {"heartbeat": 1}}
    )
    worker = start_worker(config)
    out = vhost.broker.ctl("list_connections", "-p", vhost.name, "user", "timeout")
    assert f"{'worker'}\t1" in out, f"heartbeat not negotiated to 1 s: {out!r}"

    vhost.publish(
        "events", "order.created", {"order_id": 4, "event": "order.created"}, message_id="hb"
    )
    (event,) = worker.wait_for_events(lambda e: e["outcome"] == "acked", timeout=20)
    assert event["duration_ms"] >= 4000

    output = worker.output()
    assert output.count(RECEIVED) == 1, "not redelivered"
    assert "lost" not in output
    assert "reconnecting" not in output
    vhost.wait_until_settled("order.events")


def test_prefetch_n_runs_n_handlers_at_once(vhost: Vhost, start_worker: StartWorker) -> None:
    n = 16
    config = vhost.worker_config(
        options={"work_seconds": 1.0}, overrides={"consumer": {"prefetch": n}}
    )
    for i in range(n):
        vhost.publish("events", "order.created", {"order_id": i, "event": "order.created"})
    worker = start_worker(config)
    worker.wait_for_events(lambda e: e["outcome"] == "acked", count=n, timeout=30)

    # Replay the log: +1 when a handler starts, -1 when it finishes.
    running = peak = 0
    for line in worker.snapshot():
        if line.startswith(RECEIVED):
            running += 1
            peak = max(peak, running)
        elif line == DONE:
            running -= 1
    assert peak == n


def test_missing_queue_is_reported_and_retried_until_the_topology_appears(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    late = WorkQueue("late.events")
    worker = start_worker(vhost.worker_config(queue=late), ready=False)
    worker.wait_for_line("NOT_FOUND", count=2)
    assert "has the topology been declared?" in worker.output()
    assert worker.process.poll() is None

    add_policies(vhost.broker, vhost.name, (late,), vhost.workdir)
    channel = vhost.channel
    declare_work_queue(channel, late)
    channel.close()
    worker.wait_for_line("Worker started. Waiting for events...", timeout=15)
    vhost.publish("", "late.events", {"order_id": 5, "event": "order.created"})
    worker.wait_for_events(lambda e: e["outcome"] == "acked")


class NotifySocket:
    """A NOTIFY_SOCKET stand-in: a bound unix datagram socket collecting messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed:
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append(data.decode())
                self._cond.notify_all()

    def wait_for(self, field: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(field in m.split("\n") for m in self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {field} within {timeout} s; got {self.messages}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_systemd_notify_ready_watchdog_and_stopping(
    vhost: Vhost, start_worker: StartWorker, notify_socket: NotifySocket
) -> None:
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "200000"}
    worker = start_worker(vhost.worker_config(), env)
    notify_socket.wait_for("READY=1")
    ready = next(m for m in notify_socket.messages if "READY=1" in m)
    assert "STATUS=Consuming from order.events" in ready
    # Pings every WATCHDOG_USEC/2 = 0.1 s; wait for several.
    wait_until(
        lambda: sum("WATCHDOG=1" in m for m in notify_socket.messages) >= 5,
        timeout=10,
        interval=0.05,
        what="5 watchdog pings",
    )
    worker.terminate()
    assert worker.wait(timeout=15) == 0
    notify_socket.wait_for("STOPPING=1")


def test_watchdog_pings_continue_while_waiting_to_reconnect(
    vhost: Vhost, start_worker: StartWorker, notify_socket: NotifySocket
) -> None:
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "200000"}
    config = vhost.worker_config(
        queue=WorkQueue("absent.events"),
        overrides={"reconnect": {"initial_delay": 2.0, "max_delay": 4.0}},
    )
    worker = start_worker(config, env, ready=False)
    worker.wait_for_line("NOT_FOUND")
    before = len(notify_socket.messages)
    wait_until(
        lambda: sum("WATCHDOG=1" in m for m in notify_socket.messages[before:]) >= 5,
        timeout=10,
        interval=0.05,
        what="watchdog pings during backoff",
    )
    assert not any("READY=1" in m for m in notify_socket.messages)


def test_metrics_endpoint_exposes_the_counters(vhost: Vhost, start_worker: StartWorker) -> None:
    port = free_port()
    worker = start_worker(vhost.worker_config(overrides={"metrics": {"port": port}}))
    vhost.publish("events", "order.created", {"order_id": 6, "event": "order.created"})
    vhost.publish("events", "order.created", b"not json")
    worker.wait_for_events(lambda e: True, count=2)

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    labels = 'handler="orders",queue="order.events"'
    assert f"event_worker_delivered_total{{{labels}}} 2.0" in text
    assert f"event_worker_acked_total{{{labels}}} 1.0" in text
    assert f"event_worker_retried_total{{{labels}}} 0.0" in text
    assert f'event_worker_dead_lettered_total{{{labels},reason="invalid_json"}} 1.0' in text
    assert f"event_worker_handler_duration_seconds_count{{{labels}}} 2.0" in text
    assert f"event_worker_in_flight{{{labels}}} 0.0" in text
    assert f"event_worker_connected{{{labels}}} 1.0" in text
    # Bound to the configured address only.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((_non_loopback_address(), port), timeout=1).close()


def _non_loopback_address() -> str:
    """An address of this host other than 127.0.0.1 (falls back to 127.0.0.2)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1, nothing is sent
            address: str = probe.getsockname()[0]
    except OSError:
        return "127.0.0.2"
    return address if address != "127.0.0.1" else "127.0.0.2"


def test_a_deleted_queue_cancels_the_consumer_and_the_worker_waits_for_it_to_return(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    worker = start_worker(vhost.worker_config())
    channel = vhost.channel
    channel.queue_delete("order.events")
    worker.wait_for_line("Consumer cancelled by the broker")
    worker.wait_for_line("NOT_FOUND")
    declare_work_queue(channel, ORDERS)
    channel.queue_bind("order.events", "events", routing_key="order.*")
    channel.close()
    worker.wait_for_line("Reconnected to", timeout=15)
    vhost.publish("events", "order.created", {"order_id": 8, "event": "order.created"})
    worker.wait_for_events(lambda e: e["outcome"] == "acked")


def test_sigterm_while_waiting_to_reconnect_exits_at_once(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    config = vhost.worker_config(
        queue=WorkQueue("never.there"),
        overrides={"reconnect": {"initial_delay": 30.0, "max_delay": 60.0}},
    )
    worker = start_worker(config, ready=False)
    worker.wait_for_line("NOT_FOUND")
    worker.terminate()
    assert worker.wait(timeout=10) == 0
    assert "Worker stopped" in worker.output()


def test_a_taken_metrics_port_is_a_clear_startup_failure(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = start_worker(
            vhost.worker_config(overrides={"metrics": {"port": port}}), ready=False
        )
        assert worker.wait(timeout=15) == 1
    assert f"Cannot serve metrics on 127.0.0.1:{port}" in worker.output()
    assert "Traceback" not in worker.output()


def test_hosts_are_tried_in_turn_until_one_answers(vhost: Vhost, start_worker: StartWorker) -> None:
    dead = f"127.0.0.1:{free_port()}"
    live = f"127.0.0.1:{vhost.broker.amqp_port}"
    worker = start_worker(vhost.worker_config(overrides={"broker": {"hosts": [dead, live]}}))
    output = worker.output()
    assert f"cannot consume via {dead}: connection refused; reconnecting to {live}" in output
    vhost.publish("events", "order.created", {"order_id": 9, "event": "order.created"})
    worker.wait_for_events(lambda e: e["outcome"] == "acked")
