"""Unit tests of the pure parts: ack coalescing, backoff, decoding, policy, sd_notify, payloads."""

from __future__ import annotations

import io
import logging
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pika.spec
import pytest

from event_worker.acks import AckCoalescer, AckPlan
from event_worker.backoff import Backoff
from event_worker.confirms import InFlight
from event_worker.decoding import InvalidEvent, decode_event_body, event_id_of
from event_worker.errors import PermanentError
from event_worker.handlers.base import Event
from event_worker.handlers.orders import OrdersHandler
from event_worker.handlers.whatsapp import HttpSender, LogSender, SenderError, WhatsAppHandler
from event_worker.handling import Completion, CompletionInbox
from event_worker.logsetup import LineFormatter
from event_worker.policy import (
    Ack,
    DeadLetter,
    Failed,
    Rejected,
    Retry,
    Succeeded,
    dead_letter_headers,
    decide,
    original_routing_key,
    read_retry_count,
    retry_headers,
)
from event_worker.publish_cli import UsageError, generate_messages, redact_url, split_documents
from event_worker.sdnotify import Notifier, socket_address, watchdog_interval
from fake_whatsapp import FakeWhatsApp

# -- ack coalescing ----------------------------------------------------------------------------


def coalescer(*tags: int) -> AckCoalescer[str]:
    acks: AckCoalescer[str] = AckCoalescer()
    for tag in tags:
        acks.track(tag)
    return acks


def test_contiguous_completed_prefix_is_one_multiple_ack() -> None:
    acks = coalescer(1, 2, 3, 4)
    for tag in (2, 1, 3):
        acks.complete(tag, f"e{tag}")
    plan = acks.take()
    assert plan == AckPlan(3, (), ("e1", "e2", "e3"))
    assert len(acks) == 1, "tag 4 is still outstanding"
    assert acks.take().empty


def test_stragglers_behind_a_slow_handler_are_acked_one_by_one() -> None:
    acks = coalescer(1, 2, 3, 4, 5)
    for tag in (1, 2, 4, 5):
        acks.complete(tag, f"e{tag}")
    plan = acks.take()
    # 3 is still running: 1-2 together, 4 and 5 alone; 3 is never acked by a multiple ack.
    assert plan.multiple_up_to == 2
    assert plan.singles == (4, 5)
    acks.complete(3, "e3")
    assert acks.take() == AckPlan(None, (3,), ("e3",))
    assert len(acks) == 0


def test_a_single_completed_tag_is_acked_without_multiple() -> None:
    acks = coalescer(7, 8)
    acks.complete(7, "e7")
    assert acks.take() == AckPlan(None, (7,), ("e7",))


def test_nothing_is_acked_that_did_not_complete() -> None:
    acks = coalescer(1, 2, 3)
    assert acks.take().empty
    acks.complete(3, "e3")
    plan = acks.take()
    assert plan.multiple_up_to is None
    assert plan.singles == (3,)


def test_forgotten_tags_do_not_block_the_prefix() -> None:
    acks = coalescer(1, 2, 3)
    acks.forget(2)  # nacked elsewhere
    acks.complete(1, "e1")
    acks.complete(3, "e3")
    assert acks.take() == AckPlan(3, (), ("e1", "e3"))


def test_coalescer_rejects_misuse() -> None:
    acks = coalescer(5)
    with pytest.raises(ValueError, match="already tracked"):
        acks.track(5)
    with pytest.raises(ValueError, match="out of order"):
        acks.track(4)
    with pytest.raises(KeyError):
        acks.complete(6, "x")
    acks.complete(5, "e5")
    with pytest.raises(ValueError, match="completed twice"):
        acks.complete(5, "again")


def test_completion_inbox_schedules_at_most_one_drain() -> None:
    scheduled: list[Callable[[], None]] = []
    inbox = CompletionInbox(scheduled.append)
    batches: list[int] = []
    inbox.on_batch = lambda items: batches.append(len(items))
    item = cast(Completion, object())  # the inbox only stores and hands back items

    def produce() -> None:
        for _ in range(100):
            inbox.put(item)

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(scheduled) == 1
    scheduled.pop()()
    assert batches == [400]
    inbox.put(item)
    assert len(scheduled) == 1, "a new drain after the previous one ran"


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(7))
    caps = []
    for _ in range(8):
        cap = backoff.cap()
        caps.append(cap)
        delay = backoff.next_delay()
        assert 0.0 <= delay <= cap
    assert caps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.cap() == 1.0


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(0.5, 10.0, random.Random(1))
    for _ in range(2000):
        assert backoff.next_delay() <= 10.0


# -- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "detail"),
    [
        (b"\xc3\x28", "invalid_utf8", "can't decode byte 0xc3"),
        (b"", "invalid_json", "Expecting value: line 1 column 1 (char 0)"),
        (b"hello", "invalid_json", "Expecting value: line 1 column 1 (char 0)"),
        (b"[" * 100_000, "invalid_json", "nesting too deep"),
        (b'{"order_id": NaN, "event": "order.created"}', "invalid_json", "NaN is not JSON"),
        (b'{"order_id": Infinity, "event": "x"}', "invalid_json", "Infinity is not JSON"),
        (b'{"order_id": -Infinity, "event": "x"}', "invalid_json", "-Infinity is not JSON"),
        (b'"text"', "not_an_object", "got a JSON string"),
        (b"null", "not_an_object", "got a JSON null"),
        (b"42", "not_an_object", "got a JSON number"),
        (b'{"order_id": 1}', "missing_field", "event"),
        (b"{}", "missing_field", "order_id, event"),
        (b'{"order_id": 1, "event": "' + b"x" * 100 + b'"}', "oversize", "the limit is 64"),
    ],
)
def test_poison_bodies_are_classified(body: bytes, kind: str, detail: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_event_body(body, 64 if kind == "oversize" else 1_000_000, ("order_id", "event"))
    assert caught.value.kind == kind
    assert detail in caught.value.reason
    assert caught.value.reason.startswith(f"{kind}: ")


def test_a_good_body_decodes_to_a_dict() -> None:
    body = decode_event_body(b'{"order_id":123,"event":"order.created"}', 1024, ("order_id",))
    assert body == {"order_id": 123, "event": "order.created"}
    assert str(body) == "{'order_id': 123, 'event': 'order.created'}"


def test_event_identity() -> None:
    assert event_id_of({"event_id": "e1"}, "m1") == "e1"
    assert event_id_of({"event_id": 17}, "m1") == "17"
    assert event_id_of({"event_id": True}, "m1") == "m1"
    assert event_id_of({}, "m1") == "m1"
    assert event_id_of({}, None) is None


# -- policy ------------------------------------------------------------------------------------


def test_decisions() -> None:
    assert decide(Succeeded(), 0, 3) == Ack()
    assert decide(Rejected("invalid_json", "invalid_json: x"), 0, 3) == DeadLetter(
        "invalid_json", "invalid_json: x"
    )
    boom = Failed("ValueError", "boom", permanent=False)
    assert decide(boom, 0, 3) == Retry(1, "ValueError: boom")
    assert decide(boom, 2, 3) == Retry(3, "ValueError: boom")
    assert decide(boom, 3, 3) == DeadLetter("handler_error", "handler_error: ValueError: boom", 3)
    assert decide(boom, 0, 0) == DeadLetter("handler_error", "handler_error: ValueError: boom", 0)
    permanent = Failed("PermanentError", "bad phone", permanent=True)
    assert decide(permanent, 1, 3) == DeadLetter(
        "permanent_error", "permanent_error: PermanentError: bad phone", 1
    )


def test_long_errors_are_clipped_for_headers() -> None:
    decision = decide(Failed("E", "x" * 5000, permanent=False), 0, 3)
    assert isinstance(decision, Retry)
    assert len(decision.last_error) == 1000


@pytest.mark.parametrize(
    ("headers", "count"),
    [
        (None, 0),
        ({}, 0),
        ({"x-retry-count": 2}, 2),
        ({"x-retry-count": "3"}, 3),
        ({"x-retry-count": b"4"}, 4),
        ({"x-retry-count": -1}, 0),
        ({"x-retry-count": True}, 0),
        ({"x-retry-count": "many"}, 0),
    ],
)
def test_retry_count_is_read_leniently(headers: dict[str, object] | None, count: int) -> None:
    assert read_retry_count(headers) == count


def test_retry_headers_keep_the_original_routing_key_and_exchange() -> None:
    first = retry_headers(
        {"trace": "abc"},
        routing_key="order.created",
        exchange="events",
        decision=Retry(1, "E: boom"),
        republish_id="r1",
    )
    assert first == {
        "trace": "abc",
        "x-original-routing-key": "order.created",
        "x-original-exchange": "events",
        "x-retry-count": 1,
        "x-last-error": "E: boom",
        "x-republish-id": "r1",
    }
    # Back from the retry queue, the delivery's routing key is the queue name and the exchange
    # is the default one; the originals survive.
    second = retry_headers(
        first,
        routing_key="order.events",
        exchange="",
        decision=Retry(2, "E: boom"),
        republish_id="r2",
    )
    assert second["x-original-routing-key"] == "order.created"
    assert second["x-original-exchange"] == "events"
    assert original_routing_key(second, "order.events") == "order.created"
    dead = dead_letter_headers(
        second,
        routing_key="order.events",
        exchange="",
        queue="order.events",
        decision=DeadLetter("handler_error", "handler_error: E: boom", 3),
        republish_id="r3",
    )
    assert dead["x-dead-letter-reason"] == "handler_error: E: boom"
    assert dead["x-retry-count"] == 3
    assert dead["x-original-queue"] == "order.events"
    assert dead["x-original-routing-key"] == "order.created"


# -- systemd notify ----------------------------------------------------------------------------


def test_notify_socket_addresses() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abstract/name") == b"\0abstract/name"
    assert socket_address("vsock:2:1234") is None
    assert socket_address("") is None


def test_notifier_is_a_no_op_without_notify_socket() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False
    assert notifier.watchdog_interval is None


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"event-worker-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    yield f"@{name}", sock
    sock.close()


def test_notifier_sends_to_an_abstract_socket(abstract_socket: tuple[str, socket.socket]) -> None:
    address, sock = abstract_socket
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "4000000"})
    assert notifier.watchdog_interval == 2.0
    notifier.ready("Consuming")
    notifier.watchdog()
    notifier.stopping("bye")
    assert sock.recv(1024) == b"READY=1\nSTATUS=Consuming"
    assert sock.recv(1024) == b"WATCHDOG=1"
    assert sock.recv(1024) == b"STOPPING=1\nSTATUS=bye"
    notifier.close()


def test_notifier_sends_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(path)})
        assert notifier.notify("READY=1")
        assert sock.recv(1024) == b"READY=1"
        notifier.close()


def test_notifier_survives_a_vanished_socket(tmp_path: Path) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.notify("READY=1") is False


def test_watchdog_interval_respects_watchdog_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "1000000"}) == 0.5
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


# -- handlers ----------------------------------------------------------------------------------


def event(body: dict[str, object], routing_key: str = "order.created") -> Event:
    return Event(
        body=body, routing_key=routing_key, event_id=None, retry_count=0, redelivered=False
    )


def test_orders_handler_logs_the_tutorial_lines(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    handler = OrdersHandler(2.0, sleep=slept.append)
    with caplog.at_level(logging.INFO):
        handler.handle(event({"order_id": 123, "event": "order.created"}))
    assert [r.getMessage() for r in caplog.records] == [
        "[Worker] Received event: {'order_id': 123, 'event': 'order.created'}",
        "[Worker] Processing event type: order.created",
        "[Worker] Event processed successfully",
    ]
    assert slept == [2.0]


def test_whatsapp_handler_logs_the_tutorial_lines(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    handler = WhatsAppHandler(LogSender(1.0, sleep=slept.append))
    with caplog.at_level(logging.INFO):
        handler.handle(event({"phone": "+911234567890", "message": "Hello from RabbitMQ"}))
    assert [r.getMessage() for r in caplog.records] == [
        "[Worker] Processing WhatsApp notification",
        "[Worker] Recipient: +911234567890",
        "[Worker] Message: Hello from RabbitMQ",
        "[Worker] WhatsApp notification sent successfully",
    ]
    assert slept == [1.0]


@pytest.fixture
def api() -> Iterator[FakeWhatsApp]:
    server = FakeWhatsApp()
    yield server
    server.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (429, SenderError),
        (500, SenderError),
        (503, SenderError),
    ],
)
def test_http_sender_maps_statuses(api: FakeWhatsApp, status: int, error: type[Exception]) -> None:
    token = "secret-token-value"
    api.statuses["/m"] = status
    api.echo_auth = True  # the fake API puts the Authorization header into its error body
    sender = HttpSender(api.url("/m"), token, timeout=5)
    with pytest.raises(error) as caught:
        sender.send("+1", "hi")
    assert f"HTTP {status}" in str(caught.value)
    assert token not in str(caught.value)
    assert "***" in str(caught.value), "the echoed token was scrubbed"
    assert token not in repr(sender)


def test_http_sender_network_error_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = HttpSender(f"http://127.0.0.1:{port}/m", "tok", timeout=2)
    with pytest.raises(SenderError, match="request failed"):
        sender.send("+1", "hi")


# -- event-publish payloads ----------------------------------------------------------------------


def test_split_documents() -> None:
    assert split_documents('{"a": 1}', "x") == ['{"a": 1}']
    assert split_documents('{\n  "a": 1\n}\n', "x") == ['{\n  "a": 1\n}']
    assert split_documents('{"a":1}\n\n{"b":2}\n', "x") == ['{"a":1}', '{"b":2}']
    with pytest.raises(UsageError, match="x line 2: not valid JSON"):
        split_documents('{"a":1}\n{oops\n', "x")
    with pytest.raises(UsageError, match="no JSON document"):
        split_documents("  \n", "x")


def test_generate_messages_gives_repeats_unique_event_ids() -> None:
    single = list(generate_messages(['{"event_id":"e1","x":1}'], 1))
    assert [(m.message_id, m.body) for m in single] == [("e1", b'{"event_id":"e1","x":1}')]
    repeated = list(generate_messages(['{"event_id":"e1","x":1}', '{"x":2}'], 3))
    ids = [m.message_id for m in repeated]
    assert ids[:3] == ["e1-1", "e1-2", "e1-3"]
    assert len(set(ids)) == 6
    assert repeated[0].body == b'{"event_id":"e1-1","x":1}'
    assert repeated[4].body == ('{"x":2,"event_id":"' + ids[4] + '"}').encode()


def test_redact_url() -> None:
    assert redact_url("amqp://u:pw@host:5672/%2F") == "amqp://u@host:5672/%2F"
    assert redact_url("amqp://host/") == "amqp://host/"


# -- logging -----------------------------------------------------------------------------------


def test_line_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter())
    logger = logging.getLogger("event_worker.test_line_formatter")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("[Worker] Event processed successfully")
    logger.warning("Connection lost")
    assert stream.getvalue() == "[Worker] Event processed successfully\nWARNING: Connection lost\n"


def _ack(tag: int, *, multiple: bool = False) -> SimpleNamespace:
    return SimpleNamespace(method=pika.spec.Basic.Ack(delivery_tag=tag, multiple=multiple))


def _nack(tag: int, *, multiple: bool = False) -> SimpleNamespace:
    return SimpleNamespace(method=pika.spec.Basic.Nack(delivery_tag=tag, multiple=multiple))


def test_in_flight_settles_single_and_multiple_confirms_in_publish_order() -> None:
    in_flight: InFlight[str] = InFlight()
    assert [in_flight.add(name) for name in "abcd"] == [1, 2, 3, 4]
    assert in_flight.settle(_ack(2)) == (["b"], True)
    assert in_flight.settle(_nack(3, multiple=True)) == (["a", "c"], False)
    assert in_flight.settle(_ack(3)) == ([], True)
    assert len(in_flight) == 1
    assert in_flight.get(4) == "d"


def test_in_flight_reset_returns_the_unconfirmed_and_restarts_the_tags() -> None:
    in_flight: InFlight[str] = InFlight()
    for name in "xyz":
        in_flight.add(name)
    in_flight.settle(_ack(2))
    assert in_flight.reset() == ["x", "z"]
    assert len(in_flight) == 0
    assert in_flight.add("new") == 1
