"""One connection's consuming lifecycle, in the style of pika's asynchronous consumer example.

connect -> open channel -> enable publisher confirms -> check the retry and dead-letter
exchanges exist (passive, no configure permission needed) -> basic.qos -> basic.consume ->
deliveries -> (handlers run on pool threads) -> settle: ack, or republish to the retry or
dead-letter exchange, wait for the confirm, then ack -> basic.cancel -> close.

Everything here runs on the I/O thread.  The reconnect loop lives outside, in
:mod:`event_worker.worker`; a session is used for one connection only.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pika
import pika.exceptions

from event_worker.acks import AckCoalescer
from event_worker.config import ConsumerConfig, HostPort
from event_worker.confirms import InFlight
from event_worker.policy import (
    REPUBLISH_ID,
    Ack,
    Decision,
    Retry,
    dead_letter_headers,
    retry_headers,
)

LOG = logging.getLogger(__name__)


class ConsumerCancelled(Exception):
    """The broker sent basic.cancel for our consumer."""


@dataclass(slots=True)
class Delivery:
    """A message as it arrived, kept untouched for republishing (never modified)."""

    tag: int
    exchange: str
    routing_key: str
    redelivered: bool
    properties: Any  # pika.BasicProperties
    body: bytes


@dataclass(slots=True)
class Settlement:
    """How one delivery ended; logged and counted once its ack (or nack) has been sent."""

    event_id: str | None
    routing_key: str
    outcome: str  # acked | retried | dead_lettered
    duration: float
    reason: str | None = None
    category: str | None = None
    retry_count: int | None = None


@dataclass(slots=True)
class _PendingRepublish:
    tag: int
    republish_id: str
    settlement: Settlement
    returned: str | None = None


class SessionListener(Protocol):
    def on_consuming(self, session: ConsumerSession) -> None: ...

    def on_delivery(self, session: ConsumerSession, delivery: Delivery) -> None: ...

    def on_settled(self, session: ConsumerSession, settlements: Sequence[Settlement]) -> None: ...

    def on_progress(self, session: ConsumerSession) -> None: ...

    def on_closed(
        self, session: ConsumerSession, error: BaseException | None, was_consuming: bool
    ) -> None: ...


# Properties a republished copy keeps.  user_id is dropped: the broker checks it against the
# publishing user, and expiration is dropped so a per-message TTL cannot discard a retry.
_KEPT_PROPERTIES = (
    "content_type",
    "content_encoding",
    "priority",
    "correlation_id",
    "reply_to",
    "message_id",
    "timestamp",
    "type",
    "app_id",
)


class ConsumerSession:
    CONNECTING = "connecting"
    CONSUMING = "consuming"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    CLOSING = "closing"
    CLOSED = "closed"

    def __init__(
        self,
        *,
        ioloop: Any,
        parameters: pika.ConnectionParameters,
        host: HostPort,
        consumer: ConsumerConfig,
        listener: SessionListener,
    ) -> None:
        self.host = host
        self._ioloop = ioloop
        self._parameters = parameters
        self._consumer = consumer
        self._listener = listener
        self._connection: Any = None
        self._channel: Any = None
        self._consumer_tag: str | None = None
        self._state = self.CONNECTING
        self._was_consuming = False
        self._close_reason: BaseException | None = None
        self._acks: AckCoalescer[Settlement] = AckCoalescer()
        self._republishes: InFlight[_PendingRepublish] = InFlight()
        self._tag_by_republish_id: dict[str, int] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def can_settle(self) -> bool:
        return self._state in (self.CONSUMING, self.CANCELLING, self.CANCELLED) and bool(
            self._channel is not None and self._channel.is_open
        )

    @property
    def closed(self) -> bool:
        return self._state == self.CLOSED

    @property
    def settling(self) -> int:
        """Republishes still waiting for their confirm."""
        return len(self._republishes)

    # -- opening -----------------------------------------------------------------------------

    def start(self) -> None:
        self._connection = pika.SelectConnection(
            parameters=self._parameters,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_connection_open(self, connection: Any) -> None:
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, _connection: Any, error: BaseException) -> None:
        self._finish_close(error)

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.add_on_cancel_callback(self._on_cancelled_by_broker)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_confirm_ok)

    def _on_confirm_ok(self, _frame: Any) -> None:
        self._check_exchange(
            self._consumer.retry_exchange,
            lambda: self._check_exchange(self._consumer.dead_letter_exchange, self._set_qos),
        )

    def _check_exchange(self, name: str, then: Callable[[], None]) -> None:
        self._channel.exchange_declare(exchange=name, passive=True, callback=lambda _f: then())

    def _set_qos(self) -> None:
        self._channel.basic_qos(prefetch_count=self._consumer.prefetch, callback=self._on_qos_ok)

    def _on_qos_ok(self, _frame: Any) -> None:
        self._consumer_tag = self._channel.basic_consume(
            queue=self._consumer.queue,
            on_message_callback=self._on_message,
            auto_ack=False,
            callback=self._on_consume_ok,
        )

    def _on_consume_ok(self, _frame: Any) -> None:
        if self._state != self.CONNECTING:
            return
        self._state = self.CONSUMING
        self._was_consuming = True
        self._listener.on_consuming(self)

    # -- deliveries --------------------------------------------------------------------------

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        delivery = Delivery(
            tag=method.delivery_tag,
            exchange=method.exchange,
            routing_key=method.routing_key,
            redelivered=bool(method.redelivered),
            properties=properties,
            body=body,
        )
        self._acks.track(delivery.tag)
        if self._state != self.CONSUMING:
            # Arrived after basic.cancel: not started, not acked; the broker requeues it
            # when the channel closes.
            return
        self._listener.on_delivery(self, delivery)

    def settle(self, delivery: Delivery, decision: Decision, settlement: Settlement) -> None:
        """Apply the policy's decision to a handled delivery."""
        if not self.can_settle:
            return
        if isinstance(decision, Ack):
            self._acks.complete(delivery.tag, settlement)
            return
        headers = delivery.properties.headers
        republish_id = uuid.uuid4().hex
        if isinstance(decision, Retry):
            exchange = self._consumer.retry_exchange
            new_headers = retry_headers(
                headers,
                routing_key=delivery.routing_key,
                exchange=delivery.exchange,
                decision=decision,
                republish_id=republish_id,
            )
        else:
            exchange = self._consumer.dead_letter_exchange
            new_headers = dead_letter_headers(
                headers,
                routing_key=delivery.routing_key,
                exchange=delivery.exchange,
                queue=self._consumer.queue,
                decision=decision,
                republish_id=republish_id,
            )
        kept = {name: getattr(delivery.properties, name) for name in _KEPT_PROPERTIES}
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, headers=new_headers, **kept
        )
        publish_tag = self._republishes.add(
            _PendingRepublish(delivery.tag, republish_id, settlement)
        )
        self._tag_by_republish_id[republish_id] = publish_tag
        self._channel.basic_publish(
            exchange=exchange,
            routing_key=delivery.routing_key,
            body=delivery.body,
            properties=properties,
            mandatory=True,
        )

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        republish_id = (properties.headers or {}).get(REPUBLISH_ID)
        publish_tag = (
            self._tag_by_republish_id.get(republish_id) if isinstance(republish_id, str) else None
        )
        if publish_tag is not None:
            self._republishes.get(publish_tag).returned = (
                f"returned unroutable by exchange {method.exchange!r} "
                f"({method.reply_code} {method.reply_text})"
            )

    def _on_confirm(self, frame: Any) -> None:
        settled, acked = self._republishes.settle(frame)
        for pending in settled:
            del self._tag_by_republish_id[pending.republish_id]
            if acked and pending.returned is None:
                self._acks.complete(pending.tag, pending.settlement)
            else:
                self._fall_back(pending, pending.returned or "nacked by the broker")
        self.flush_acks()
        self._listener.on_progress(self)

    def _fall_back(self, pending: _PendingRepublish, why: str) -> None:
        """The republish failed: reject without requeue so the queue's policy DLX takes it."""
        self._channel.basic_nack(delivery_tag=pending.tag, multiple=False, requeue=False)
        self._acks.forget(pending.tag)
        original = pending.settlement
        reason = (
            f"{original.reason or original.outcome}; republish {why}, "
            "rejected to the queue's dead-letter exchange"
        )
        self._listener.on_settled(
            self,
            (
                Settlement(
                    event_id=original.event_id,
                    routing_key=original.routing_key,
                    outcome="dead_lettered",
                    duration=original.duration,
                    reason=reason,
                    category="republish_failed",
                    retry_count=original.retry_count,
                ),
            ),
        )

    def flush_acks(self) -> None:
        """Send the acks the coalescer has collected, then report them."""
        if not self.can_settle:
            return
        plan = self._acks.take()
        if plan.empty:
            return
        if plan.multiple_up_to is not None:
            self._channel.basic_ack(delivery_tag=plan.multiple_up_to, multiple=True)
        for tag in plan.singles:
            self._channel.basic_ack(delivery_tag=tag, multiple=False)
        self._listener.on_settled(self, plan.items)

    # -- stopping ----------------------------------------------------------------------------

    def stop_consuming(self) -> None:
        """basic.cancel: no new deliveries; in-flight ones can still be settled."""
        if self._state == self.CONSUMING and self._channel is not None and self._channel.is_open:
            self._state = self.CANCELLING
            self._channel.basic_cancel(self._consumer_tag, callback=self._on_cancel_ok)
        elif self._state == self.CONNECTING:
            self.close()

    def _on_cancel_ok(self, _frame: Any) -> None:
        if self._state == self.CANCELLING:
            self._state = self.CANCELLED
        self._listener.on_progress(self)

    def _on_cancelled_by_broker(self, _frame: Any) -> None:
        """The broker cancelled our consumer (queue deleted, node down): start over."""
        LOG.warning(
            "Consumer cancelled by the broker (was queue %r deleted?)", self._consumer.queue
        )
        if self._close_reason is None:
            self._close_reason = ConsumerCancelled(
                f"consumer of queue {self._consumer.queue!r} cancelled by the broker"
            )
        self.close()

    def close(self) -> None:
        if self._state in (self.CLOSING, self.CLOSED):
            return
        self._state = self.CLOSING
        connection = self._connection
        if connection is None or connection.is_closing or connection.is_closed:
            return
        with contextlib.suppress(pika.exceptions.ConnectionWrongStateError):
            connection.close()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if self._close_reason is None:
            self._close_reason = reason
        self._channel = None
        if self._state not in (self.CLOSING, self.CLOSED):
            self._state = self.CLOSING
            connection = self._connection
            if connection is not None and not (connection.is_closing or connection.is_closed):
                connection.close()

    def _on_connection_closed(self, _connection: Any, reason: BaseException) -> None:
        self._finish_close(reason)

    def _finish_close(self, reason: BaseException | None) -> None:
        if self._state == self.CLOSED:
            return
        error = self._close_reason or reason
        self._state = self.CLOSED
        self._channel = None
        self._connection = None
        self._listener.on_closed(self, error, self._was_consuming)

    # -- flow control ------------------------------------------------------------------------

    def _on_blocked(self, _connection: Any, frame: Any) -> None:
        LOG.warning("Connection blocked by broker: %s", getattr(frame.method, "reason", "?"))

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        LOG.info("Connection unblocked by broker")
