"""The worker runtime: reconnect loop, handler pool, shutdown, systemd and metrics wiring.

One pika IOLoop runs for the whole process, on the main thread.  Connections come and go
(:class:`~event_worker.consumer.ConsumerSession`), the loop stays, so timers such as the systemd
watchdog keep running while the worker waits to reconnect.  Handlers run on a pool of
``prefetch`` threads; their results travel back to the I/O thread through one
``add_callback_threadsafe`` callback per batch, where acks are coalesced.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any

import pika.exceptions
from pika.adapters.select_connection import IOLoop

from event_worker.backoff import Backoff
from event_worker.broker import connection_parameters, describe_amqp_error, describe_target
from event_worker.config import WorkerConfig
from event_worker.consumer import ConsumerSession, Delivery, Settlement
from event_worker.handlers.base import BatchHandler, Handler
from event_worker.handling import (
    Completion,
    CompletionInbox,
    Handled,
    handle_batch,
    handle_delivery,
)
from event_worker.logsetup import JSON_LINES
from event_worker.metrics import WorkerMetrics
from event_worker.policy import DeadLetter, Decision, Retry, decide
from event_worker.pool import HandlerPool
from event_worker.sdnotify import Notifier
from event_worker.signals import SignalPipe

LOG = logging.getLogger(__name__)
EVENT_LOG = logging.getLogger("event_worker.events")

FORCED_EXIT_GRACE = 5.0


class Phase(enum.Enum):
    """Where the worker is in its life. It only moves forward; a stop may be requested before
    RUNNING (then the worker never reports ready)."""

    STARTING = "starting"  # not yet consuming for the first time
    RUNNING = "running"  # consuming (or reconnecting after a lost connection)
    STOPPING = "stopping"  # a stop was requested: waiting for in-flight events
    ABANDONING = "abandoning"  # the shutdown timeout passed: no longer waiting for handlers
    STOPPED = "stopped"  # the I/O loop is stopping; nothing more happens


def settle_line(settlement: Settlement, queue_json: str) -> str:
    """The per-event JSON log line.

    Byte for byte what ``json.dumps(record, ensure_ascii=False)`` gives for the record
    ``{event_id, routing_key, outcome, duration_ms, queue[, reason][, retry_count]}``, built
    directly because it is written for every event (a third of the cost of dumps).
    """
    event_id = settlement.event_id
    line = (
        f'{{"event_id": {"null" if event_id is None else encode_basestring(event_id)}, '
        f'"routing_key": {encode_basestring(settlement.routing_key)}, '
        f'"outcome": {encode_basestring(settlement.outcome)}, '
        f'"duration_ms": {round(settlement.duration * 1000, 1)!r}, "queue": {queue_json}'
    )
    if settlement.reason is not None:
        line += f', "reason": {encode_basestring(settlement.reason)}'
    if settlement.retry_count is not None:
        line += f', "retry_count": {settlement.retry_count:d}'
    return line + "}"


def describe_error(error: BaseException | None, queue: str, vhost: str) -> str:
    """One line explaining why a connection or channel ended, with a hint where useful."""
    text = describe_amqp_error(error)
    if isinstance(error, pika.exceptions.ChannelClosedByBroker):
        if error.reply_code == 404:
            return (
                f"{text}: the topology for queue {queue!r} is missing in vhost {vhost!r}; "
                "has the topology been declared?"
            )
        if error.reply_code == 403:
            return f"{text}: check the user's permissions in vhost {vhost!r}"
    return text


class Worker:
    """Consume one queue with one handler until SIGTERM/SIGINT."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        handler: Handler | BatchHandler | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._config = config
        self._consumer = config.consumer
        self._handler = handler if handler is not None else config.handler.options.build()
        # A batch handler gets the deliveries in lists; a batch never waits for more than
        # the prefetch can bring.
        self._batch_size = (
            min(config.handler.batch_size, config.consumer.prefetch)
            if isinstance(self._handler, BatchHandler)
            else 0
        )
        self._batch: list[tuple[ConsumerSession, Delivery]] = []
        self._batch_timer: Any = None
        self._notifier = notifier if notifier is not None else Notifier.from_environment()
        self._ioloop = IOLoop()
        self._metrics = WorkerMetrics(config.consumer.queue, config.handler.name)
        self._backoff = Backoff(config.reconnect.initial_delay, config.reconnect.max_delay)
        self._pool: HandlerPool | None = None
        self._inbox = CompletionInbox(self._ioloop.add_callback_threadsafe)
        self._inbox.on_batch = self._on_completions
        self._metrics.in_flight.set_function(lambda: self._in_flight)
        self._queue_json = encode_basestring(config.consumer.queue)
        self._session: ConsumerSession | None = None
        self._host_index = 0
        self._attempts = 0
        self._in_flight = 0
        self._phase = Phase.STARTING
        self._exit_code = 0
        self._reconnect_timer: Any = None
        self._shutdown_timer: Any = None
        self._signals = SignalPipe(self._ioloop, self.request_stop)

    # -- running -----------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; return the process exit code."""
        server = None
        metrics = self._config.metrics
        if metrics.enabled:
            try:
                server = self._metrics.serve(metrics.address, metrics.port)
            except OSError as exc:
                LOG.error("Cannot serve metrics on %s:%d: %s", metrics.address, metrics.port, exc)
                self._ioloop.close()
                return 1
            LOG.info("Metrics on http://%s:%d/metrics", metrics.address, metrics.port)
        self._pool = HandlerPool(self._consumer.prefetch)
        self._signals.install()
        try:
            if self._notifier.watchdog_interval is not None:
                self._ioloop.call_later(0, self._watchdog_ping)
            self._ioloop.call_later(0, self._connect)
            self._ioloop.start()
        finally:
            self._signals.restore()
            self._pool.shutdown()
            if server is not None:
                server.shutdown()
                server.server_close()
            self._notifier.close()
            self._ioloop.close()
        return self._exit_code

    def request_stop(self, why: str) -> None:
        """Begin a graceful shutdown (I/O thread)."""
        if self._stop_requested:
            LOG.info("%s: already shutting down (%d events in flight)", why, self._in_flight)
            return
        self._phase = Phase.STOPPING
        timeout = self._consumer.shutdown_timeout
        LOG.info(
            "%s: shutting down; waiting up to %g s for %d in-flight events",
            why,
            timeout,
            self._in_flight,
        )
        self._notifier.stopping(f"Shutting down ({why})")
        self._shutdown_timer = self._ioloop.call_later(timeout, self._on_shutdown_timeout)
        if self._reconnect_timer is not None:
            self._ioloop.remove_timeout(self._reconnect_timer)
            self._reconnect_timer = None
        if self._session is not None:
            self._session.stop_consuming()
        self._check_shutdown()

    # -- connecting --------------------------------------------------------------------------

    def _connect(self) -> None:
        self._reconnect_timer = None
        if self._stop_requested:
            self._check_shutdown()
            return
        broker = self._config.broker
        host = broker.hosts[self._host_index]
        if self._attempts > 0:
            self._metrics.reconnects.inc()
        self._attempts += 1
        LOG.info("Connecting to %s", describe_target(broker, host))
        parameters = connection_parameters(
            broker,
            host,
            program="event-worker",
            detail=self._consumer.queue,
            blocked_connection_timeout=broker.blocked_connection_timeout,
        )
        session = ConsumerSession(
            ioloop=self._ioloop,
            parameters=parameters,
            host=host,
            consumer=self._consumer,
            listener=self,
        )
        self._session = session
        try:
            session.start()
        except Exception as exc:  # noqa: BLE001 - any setup failure means: try again later
            self._session = None
            self._schedule_reconnect(f"cannot connect to {host}: {exc}")

    def _schedule_reconnect(self, why: str) -> None:
        hosts = self._config.broker.hosts
        self._host_index = (self._host_index + 1) % len(hosts)
        delay = self._backoff.next_delay()
        LOG.warning(
            "%s; reconnecting to %s in %.1f s (attempt %d)",
            why,
            hosts[self._host_index],
            delay,
            self._backoff.attempt,
        )
        self._notifier.status(f"Disconnected: {why}; retrying in {delay:.1f} s")
        self._reconnect_timer = self._ioloop.call_later(delay, self._connect)

    # -- SessionListener ---------------------------------------------------------------------

    def on_consuming(self, session: ConsumerSession) -> None:
        self._backoff.reset()
        self._metrics.connected.set(1)
        status = f"Consuming from {self._consumer.queue} on {session.host}"
        if self._stop_requested:
            session.stop_consuming()
            return
        if self._phase is Phase.STARTING:
            self._phase = Phase.RUNNING
            LOG.info("Worker started. Waiting for events...")
            self._notifier.ready(status)
        else:
            LOG.info("Reconnected to %s; consuming from %s", session.host, self._consumer.queue)
            self._notifier.status(status)

    def on_delivery(self, session: ConsumerSession, delivery: Delivery) -> None:
        self._metrics.delivered.inc()
        self._in_flight += 1
        if self._pool is None:  # pragma: no cover - run() creates the pool first
            raise RuntimeError("worker is not running")
        if not self._batch_size:
            self._pool.submit(lambda: self._process(session, delivery))
            return
        self._batch.append((session, delivery))
        if len(self._batch) >= self._batch_size:
            self._submit_batch()
        elif self._batch_timer is None:
            self._batch_timer = self._ioloop.call_later(
                self._config.handler.batch_max_wait, self._submit_batch
            )

    def _submit_batch(self) -> None:
        """Hand the collected deliveries to one pool thread (I/O thread)."""
        if self._batch_timer is not None:
            self._ioloop.remove_timeout(self._batch_timer)
            self._batch_timer = None
        items, self._batch = self._batch, []
        if items and self._pool is not None:
            self._pool.submit(lambda: self._process_batch(items))

    def on_settled(self, session: ConsumerSession, settlements: Sequence[Settlement]) -> None:
        """Log one JSON line per settled event (one write for the batch) and count them."""
        del session
        if not settlements:
            return
        lines = []
        dead_lines = []
        acked = 0
        for settlement in settlements:
            line = settle_line(settlement, self._queue_json)
            if settlement.outcome == "acked":
                acked += 1
            elif settlement.outcome == "retried":
                self._metrics.retried.inc()
            else:
                self._metrics.dead_lettered(settlement.category or "unknown")
                dead_lines.append(line)
                continue
            lines.append(line)
        # JSON lines stay JSON (no "WARNING: " prefix); a dead-lettered event's line is
        # a warning in the journal (journalctl -p warning).
        if lines:
            EVENT_LOG.info("\n".join(lines), extra={JSON_LINES: True})
        if dead_lines:
            EVENT_LOG.warning("\n".join(dead_lines), extra={JSON_LINES: True})
        if acked:
            self._metrics.acked.inc(acked)

    def on_progress(self, session: ConsumerSession) -> None:
        del session
        self._check_shutdown()

    def on_closed(
        self, session: ConsumerSession, error: BaseException | None, was_consuming: bool
    ) -> None:
        if session is not self._session:
            return
        self._session = None
        self._metrics.connected.set(0)
        if self._stop_requested:
            self._check_shutdown()
            return
        why = describe_error(error, self._consumer.queue, self._config.broker.vhost)
        if was_consuming:
            LOG.warning("Connection to %s lost: %s", session.host, why)
            if self._in_flight:
                LOG.warning(
                    "%d in-flight events cannot be acked on the lost connection; "
                    "the broker will redeliver them",
                    self._in_flight,
                )
            self._schedule_reconnect("connection lost")
        else:
            self._schedule_reconnect(f"cannot consume via {session.host}: {why}")

    # -- handling (pool threads) -------------------------------------------------------------

    def _process(self, session: ConsumerSession, delivery: Delivery) -> None:
        assert not isinstance(self._handler, BatchHandler)
        handled = handle_delivery(self._handler, delivery, self._consumer.max_body_bytes)
        self._metrics.duration.observe(handled.duration)
        self._inbox.put(Completion(session, delivery, handled))

    def _process_batch(self, items: list[tuple[ConsumerSession, Delivery]]) -> None:
        assert isinstance(self._handler, BatchHandler)
        results = handle_batch(
            self._handler, [delivery for _, delivery in items], self._consumer.max_body_bytes
        )
        self._metrics.duration.observe(results[0].duration)
        self._inbox.put(
            *(
                Completion(session, delivery, handled)
                for (session, delivery), handled in zip(items, results, strict=True)
            )
        )

    # -- settling (I/O thread) ---------------------------------------------------------------

    def _on_completions(self, items: list[Completion]) -> None:
        self._in_flight -= len(items)
        touched: dict[int, ConsumerSession] = {}
        orphaned = 0
        for item in items:
            session = item.session
            if not session.can_settle:
                orphaned += 1
                continue
            handled = item.handled
            decision = decide(handled.outcome, handled.retry_count, self._consumer.retry_limit)
            settlement = self._settlement(handled, decision)
            session.settle(item.delivery, decision, settlement)
            touched[id(session)] = session
        for session in touched.values():
            session.flush_acks()
        if orphaned:
            LOG.warning(
                "%d events finished after their connection was lost; "
                "they were not acked and will be redelivered",
                orphaned,
            )
        self._check_shutdown()

    @staticmethod
    def _settlement(handled: Handled, decision: Decision) -> Settlement:
        if isinstance(decision, Retry):
            return Settlement(
                handled.event_id,
                handled.routing_key,
                "retried",
                handled.duration,
                reason=decision.last_error,
                retry_count=decision.retry_count,
            )
        if isinstance(decision, DeadLetter):
            return Settlement(
                handled.event_id,
                handled.routing_key,
                "dead_lettered",
                handled.duration,
                reason=decision.reason,
                category=decision.category,
                retry_count=decision.retry_count,
            )
        return Settlement(handled.event_id, handled.routing_key, "acked", handled.duration)

    # -- shutdown ----------------------------------------------------------------------------

    @property
    def _stop_requested(self) -> bool:
        return self._phase in (Phase.STOPPING, Phase.ABANDONING, Phase.STOPPED)

    def _check_shutdown(self) -> None:
        if self._phase not in (Phase.STOPPING, Phase.ABANDONING):
            return
        session = self._session
        if self._in_flight and self._phase is Phase.STOPPING:
            return
        if session is not None and not session.closed:
            if session.settling or session.state == session.CANCELLING:
                return
            session.close()
            return
        self._finish()

    def _on_shutdown_timeout(self) -> None:
        self._shutdown_timer = None
        if self._phase is Phase.STOPPED:
            return
        LOG.error(
            "Shutdown timeout (%g s): %d events still in flight; closing the connection "
            "(the broker will redeliver them)",
            self._consumer.shutdown_timeout,
            self._in_flight,
        )
        self._exit_code = 1
        self._phase = Phase.ABANDONING  # stop waiting for handlers
        if self._session is not None and not self._session.closed:
            self._session.close()
            self._ioloop.call_later(FORCED_EXIT_GRACE, self._finish)
        else:
            self._finish()

    def _finish(self) -> None:
        if self._phase is Phase.STOPPED:
            return
        self._phase = Phase.STOPPED
        if self._shutdown_timer is not None:
            self._ioloop.remove_timeout(self._shutdown_timer)
            self._shutdown_timer = None
        LOG.info("Worker stopped")
        self._ioloop.stop()

    # -- systemd watchdog --------------------------------------------------------------------

    def _watchdog_ping(self) -> None:
        interval = self._notifier.watchdog_interval
        if interval is None or self._phase is Phase.STOPPED:
            return
        self._notifier.watchdog()
        self._ioloop.call_later(interval, self._watchdog_ping)
