"""Timing one drain of a pre-filled queue by one or more consumer processes.

The clock starts when the broker shows every consumer attached (passive queue.declare, polled
every few milliseconds) and stops when the consumers' own output says the last message was
acked: the kit's worker writes one settle line per event right after handing its ack to the
socket, the baselines print ``done N`` after their Nth ack.  Completion is then checked at the
broker: 0 messages ready, and still 0 after the consumers are stopped, so no delivery was left
unacknowledged (an unacked message goes back to ready when its connection closes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.consumers import Consumer
from bench.procs import ChildProcess
from bench.target import Broker, wait_for

START_POLL = 0.003
DONE_POLL = 0.005
START_TIMEOUT = 60.0


class DrainError(RuntimeError):
    """A consumer did not drain the queue completely."""


@dataclass(frozen=True, slots=True)
class Drain:
    messages: int
    """Messages acked between the start and the end of the clock."""
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
        for index in range(1, processes + 1):
            procs.append(
                consumer.start(
                    broker, queue, workdir, prefetch=prefetch, expect=messages, index=index
                )
            )
        started = _wait_attached(broker, queue, procs, processes)
        cpu_before = sum(p.cpu_seconds() for p in procs)
        acked_before = sum(consumer.acked(p, messages) for p in procs) if processes > 1 else 0
        deadline = started + timeout
        while sum(consumer.acked(p, messages) for p in procs) < messages:
            now = time.monotonic()
            if now > deadline or not all(p.running for p in procs):
                raise DrainError(_failure(consumer, procs, "did not finish", broker, queue))
            time.sleep(DONE_POLL)
        ended = time.monotonic()
        cpu = sum(p.cpu_seconds() for p in procs) - cpu_before
        wait_for(lambda: broker.amqp_counts(queue)[0] == 0, 10, f"{queue} to hold 0 ready")
    finally:
        for proc in procs:
            proc.stop()
    left = broker.amqp_counts(queue)[0]
    if left:
        raise DrainError(f"{consumer.kind}: {left} messages were left unacked in {queue}")
    return Drain(messages - acked_before, ended - started, cpu)


def _wait_attached(broker: Broker, queue: str, procs: list[ChildProcess], count: int) -> float:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        now = time.monotonic()
        if broker.amqp_counts(queue)[1] >= count:
            return now
        if now > deadline or not all(p.running for p in procs):
            raise DrainError(f"consumers did not attach to {queue}:\n" + procs[0].text()[-2000:])
        time.sleep(START_POLL)


def _failure(
    consumer: Consumer, procs: list[ChildProcess], what: str, broker: Broker, queue: str
) -> str:
    ready, _ = broker.amqp_counts(queue)
    return f"{consumer.kind} {what} ({ready} ready left); output:\n" + procs[0].text()[-2000:]
