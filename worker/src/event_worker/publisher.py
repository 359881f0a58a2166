"""Publishing with publisher confirms and ``mandatory``, pipelined up to a window.

A pika SelectConnection keeps up to ``window`` publishes unconfirmed: ``window = 1`` waits for
each confirm, larger windows pipeline them (the broker confirms in batches with
``multiple=True``).  Unroutable messages (basic.return), nacks and a connection the broker keeps
blocked (memory or disk alarm) longer than ``blocked_timeout`` are reported as failures, never
silently dropped.  A connection lost mid-stream (a broker node stopped or restarted) fails
over: the publisher reconnects to the next broker in the list, republishes every message
that was not confirmed yet (at least once: the broker may already hold some of them) and goes
on; it gives up when no broker takes it back within ``failover_timeout`` seconds.
"""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop

from event_worker.broker import describe_amqp_error
from event_worker.confirms import InFlight

FAILOVER_RETRY_DELAY = 0.5
"""Seconds between connection attempts while failing over."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: bytes
    message_id: str


@dataclass(frozen=True, slots=True)
class Target:
    """One broker to try, with a password-free description for messages."""

    parameters: pika.ConnectionParameters
    description: str


@dataclass(slots=True)
class PublishReport:
    published: int = 0
    confirmed: int = 0
    nacked: int = 0
    returned: int = 0
    returned_reasons: dict[str, str] = field(default_factory=dict)
    """Routing key -> the broker's reply text, for every key that was returned."""
    error: str | None = None
    elapsed: float = 0.0
    failovers: int = 0
    """Connections lost mid-stream and re-established."""
    republished: int = 0
    """Unconfirmed messages published again after a failover (possible duplicates)."""

    @property
    def unconfirmed(self) -> int:
        return self.published - self.confirmed - self.nacked - self.returned

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.nacked == 0
            and self.returned == 0
            and self.confirmed == self.published
        )

    @property
    def rate(self) -> float:
        return self.confirmed / self.elapsed if self.elapsed > 0 else 0.0


class ConfirmingPublisher:
    """Publish a stream of messages to one exchange and routing key, confirmed."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        exchange: str,
        routing_key: str,
        window: int = 1,
        failover_timeout: float = 60.0,
        on_blocked: Callable[[str], None] | None = None,
        on_unblocked: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not targets:
            raise ValueError("need at least one broker to connect to")
        if window < 1:
            raise ValueError("window must be at least 1")
        self._targets = list(targets)
        self._exchange = exchange
        self._routing_key = routing_key
        self._window = window
        self._failover_timeout = failover_timeout
        self._on_blocked = on_blocked or (lambda _reason: None)
        self._on_unblocked = on_unblocked or (lambda: None)
        self._clock = clock
        self._ioloop: Any = None
        self._connection: Any = None
        self._channel: Any = None
        self._messages: Iterator[OutgoingMessage] = iter(())
        self._exhausted = False
        self._in_flight: InFlight[OutgoingMessage] = InFlight()
        self._resend: collections.deque[OutgoingMessage] = collections.deque()
        self._outage_deadline: float | None = None
        self._returned_ids: collections.Counter[str] = collections.Counter()
        self._report = PublishReport()
        self._connect_errors: list[str] = []
        self._target_index = 0
        self._blocked_reason: str | None = None
        self._done = False

    def run(self, messages: Iterable[OutgoingMessage]) -> PublishReport:
        self._messages = iter(messages)
        self._ioloop = IOLoop()
        started = self._clock()
        self._ioloop.call_later(0, self._connect)
        try:
            self._ioloop.start()
        finally:
            self._report.elapsed = self._clock() - started
            self._ioloop.close()
        return self._report

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> None:
        target = self._targets[self._target_index]
        self._connection = pika.SelectConnection(
            parameters=target.parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_open_error(self, _connection: Any, error: BaseException) -> None:
        target = self._targets[self._target_index]
        self._connect_errors.append(f"{target.description}: {describe_amqp_error(error)}")
        if self._outage_deadline is None:
            # The first connection: one pass over the brokers, then fail.
            self._target_index += 1
            if self._target_index < len(self._targets):
                self._connect()
                return
            self._fail("cannot connect to the broker: " + "; ".join(self._connect_errors))
            self._ioloop.stop()
            return
        # Failing over: rotate over the brokers until one answers or time is up.
        self._target_index = (self._target_index + 1) % len(self._targets)
        if self._clock() < self._outage_deadline:
            self._ioloop.call_later(FAILOVER_RETRY_DELAY, self._connect)
            return
        recent = self._connect_errors[-len(self._targets) :]
        self._fail(
            f"connection lost and no broker took it back within {self._failover_timeout:g} s: "
            + "; ".join(recent)
        )
        self._ioloop.stop()

    def _on_open(self, connection: Any) -> None:
        if self._outage_deadline is not None:
            self._report.failovers += 1
            self._outage_deadline = None
        connection.add_on_connection_blocked_callback(self._on_connection_blocked)
        connection.add_on_connection_unblocked_callback(self._on_connection_unblocked)
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_ok)

    def _on_confirm_ok(self, _frame: Any) -> None:
        self._pump()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        self._channel = None
        # A closing connection closes its channels first; _on_closed reports that cause.
        if not self._done and isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            self._fail(f"channel closed by the broker: {describe_amqp_error(reason)}")
        if self._connection is not None and not (
            self._connection.is_closing or self._connection.is_closed
        ):
            self._connection.close()

    def _on_closed(self, _connection: Any, reason: BaseException) -> None:
        self._channel = None
        if not self._done:
            if isinstance(reason, pika.exceptions.ConnectionBlockedTimeout):
                self._fail(
                    f"connection blocked by broker ({self._blocked_reason or 'no reason given'}) "
                    "for longer than the blocked timeout; giving up"
                )
            elif self._failover_timeout > 0:
                self._fail_over(reason)
                return
            else:
                self._fail(f"connection lost: {describe_amqp_error(reason)}")
        self._ioloop.stop()

    def _fail_over(self, reason: BaseException) -> None:
        """Reconnect to the next broker; unconfirmed messages are published again there."""
        target = self._targets[self._target_index]
        self._connect_errors.append(f"{target.description}: {describe_amqp_error(reason)}")
        self._outage_deadline = self._clock() + self._failover_timeout
        self._resend.extend(self._in_flight.reset())
        self._target_index = (self._target_index + 1) % len(self._targets)
        self._ioloop.call_later(FAILOVER_RETRY_DELAY, self._connect)

    def _on_connection_blocked(self, _connection: Any, frame: Any) -> None:
        self._blocked_reason = str(getattr(frame.method, "reason", "") or "no reason given")
        self._on_blocked(self._blocked_reason)

    def _on_connection_unblocked(self, _connection: Any, _frame: Any) -> None:
        self._blocked_reason = None
        self._on_unblocked()

    # -- publishing --------------------------------------------------------------------------

    def _pump(self) -> None:
        if self._done or self._channel is None:
            return
        while self._resend and len(self._in_flight) < self._window:
            self._publish(self._resend.popleft(), again=True)
        while not self._exhausted and len(self._in_flight) < self._window:
            message = next(self._messages, None)
            if message is None:
                self._exhausted = True
                break
            self._publish(message)
        if self._exhausted and not self._in_flight and not self._resend:
            self._finish()

    def _publish(self, message: OutgoingMessage, *, again: bool = False) -> None:
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.message_id,
            timestamp=int(time.time()),
            app_id="event-publish",
        )
        self._in_flight.add(message)
        if again:
            self._report.republished += 1
        else:
            self._report.published += 1
        self._channel.basic_publish(
            exchange=self._exchange,
            routing_key=self._routing_key,
            body=message.body,
            properties=properties,
            mandatory=True,
        )

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        if properties.message_id:
            self._returned_ids[properties.message_id] += 1
        key = method.routing_key
        self._report.returned_reasons.setdefault(key, f"{method.reply_text} ({method.reply_code})")

    def _on_confirm(self, frame: Any) -> None:
        messages, acked = self._in_flight.settle(frame)
        for message in messages:
            if self._returned_ids[message.message_id] > 0:
                self._returned_ids[message.message_id] -= 1
                self._report.returned += 1
            elif acked:
                self._report.confirmed += 1
            else:
                self._report.nacked += 1
        self._pump()

    # -- ending ------------------------------------------------------------------------------

    def _fail(self, error: str) -> None:
        if self._report.error is None:
            self._report.error = error
        self._done = True

    def _finish(self) -> None:
        self._done = True
        if self._connection is not None and not (
            self._connection.is_closing or self._connection.is_closed
        ):
            self._connection.close()
        else:
            self._ioloop.stop()


def new_message_id() -> str:
    return str(uuid.uuid4())
