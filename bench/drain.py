"""Timing one drain of a pre-filled queue by one or more consumer processes.

The consumers start while the benchmark itself holds every message of the queue (delivered to
it, unacked), so they attach to a queue with nothing ready.  Once the broker shows them all
attached (passive queue.declare), the benchmark hands every message back at once
(basic.nack multiple, requeue) and the clock starts: process start-up is never timed and
several processes start together.  The clock stops when the consumers' own output says the
last message was acked: the kit's worker writes one settle line per event right after handing
its ack to the socket, the baselines print ``done N`` after their Nth ack.  Completion is then
checked at the broker: 0 messages ready, and still 0 after the consumers are stopped, so no
delivery was left unacknowledged (an unacked message goes back to ready when its connection
closes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pika

from bench.consumers import Consumer
from bench.procs import ChildProcess
from bench.target import Broker
from testbed.waiting import wait_until

START_POLL = 0.01
DONE_POLL = 0.005
START_TIMEOUT = 60.0
HOLD_TIMEOUT = 120.0


class DrainError(RuntimeError):
    """A consumer did not drain the queue completely."""


@dataclass(frozen=True, slots=True)
class Drain:
    messages: int
    seconds: float
    cpu_seconds: float
    """CPU time the consumer processes used while the clock ran."""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def drain(
    broker: Broker,
    queue: str,
    consumer: Consumer,
    workdir: Path,
    *,
    messages: int,
    prefetch: int | None,
    processes: int = 1,
    timeout: float = 600.0,
) -> Drain:
    """Start ``processes`` consumers on the pre-filled ``queue`` and time them emptying it."""
    ready, consumers = broker.amqp_counts(queue)
    if ready != messages or consumers:
        raise DrainError(f"{queue} holds {ready} messages and {consumers} consumers, not {messages}")
    procs: list[ChildProcess] = []
    try:
        with HeldMessages(broker, queue, messages) as held:
            for index in range(1, processes + 1):
                procs.append(consumer.start(broker, queue, workdir, prefetch=prefetch, expect=messages, index=index))
            _wait_attached(broker, queue, procs, processes)
            cpu_before = sum(p.cpu_seconds() for p in procs)
            started = held.release()
        deadline = started + timeout
        while sum(consumer.acked(p, messages) for p in procs) < messages:
            if time.monotonic() > deadline or not all(p.running for p in procs):
                raise DrainError(_failure(consumer, procs, broker, queue))
            time.sleep(DONE_POLL)
        ended = time.monotonic()
        cpu = sum(p.cpu_seconds() for p in procs) - cpu_before
        wait_until(lambda: broker.amqp_counts(queue)[0] == 0, 10, interval=0.05, what=f"{queue} to hold 0 ready")
    finally:
        for proc in procs:
            proc.stop()
    left = broker.amqp_counts(queue)[0]
    if left:
        raise DrainError(f"{consumer.kind}: {left} messages were left unacked in {queue}")
    return Drain(messages, ended - started, cpu)


class HeldMessages:
    """Every message of a queue delivered to a channel of our own and kept unacked, until
    :meth:`release` requeues them all at once (context manager: released on exit anyway)."""

    def __init__(self, broker: Broker, queue: str, count: int) -> None:
        self._connection = pika.BlockingConnection(broker.parameters)
        self._channel = self._connection.channel()
        self._channel.basic_qos(prefetch_count=0)
        tags: list[int] = []
        consumer_tag = self._channel.basic_consume(
            queue, lambda _ch, method, _props, _body: tags.append(method.delivery_tag)
        )
        deadline = time.monotonic() + HOLD_TIMEOUT
        while len(tags) < count:
            if time.monotonic() > deadline:
                raise DrainError(f"only {len(tags)} of {count} messages of {queue} arrived")
            self._connection.process_data_events(time_limit=0.1)
        self._channel.basic_cancel(consumer_tag)
        self._released: float | None = None

    def release(self) -> float:
        """Requeue everything held; returns the moment the nack went out."""
        if self._released is None:
            self._released = time.monotonic()
            self._channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
            self._connection.close()
        return self._released

    def __enter__(self) -> HeldMessages:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._released is None:
            self.release()


def _wait_attached(broker: Broker, queue: str, procs: list[ChildProcess], count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while broker.amqp_counts(queue)[1] < count:
        if time.monotonic() > deadline or not all(p.running for p in procs):
            raise DrainError(f"consumers did not attach to {queue}:\n" + procs[0].text()[-2000:])
        time.sleep(START_POLL)


def _failure(consumer: Consumer, procs: list[ChildProcess], broker: Broker, queue: str) -> str:
    ready, _ = broker.amqp_counts(queue)
    return f"{consumer.kind} did not finish ({ready} ready left); output:\n" + procs[0].text()[-2000:]
