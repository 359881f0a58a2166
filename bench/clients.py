"""Baseline consumers the kit's worker is compared with, run as child processes.

``python -m bench.clients KIND --url URL --queue Q --prefetch N [--expect N]``

* ``plain``: the tutorial's consumer (pika BlockingConnection, basic_qos, manual ack of each
  message in the callback) without its sleep and prints;
* ``plain-multi``: the same, acking every ``min(100, prefetch)`` messages with multiple=True
  (and whatever is pending after 50 ms without deliveries);
* ``autoack``: the same without acks at all (auto-ack; the ceiling, at-most-once);
* ``aio``: an aio-pika consumer acking each message;
* ``tutorial``: the tutorial's worker as written: prefetch 1, its prints, ``time.sleep(work)``.

Every kind decodes the JSON body, as the kit's worker does before calling its handler.  Each
prints ``consuming`` once its consumer is registered and ``done N`` after its Nth ack (with
``--expect N``); the benchmark reads those lines.  ``plain --print-acks`` also prints
``acked EVENT_ID`` after each ack (for the latency benchmark).  SIGTERM ends it without any cleanup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import pika

IDLE_FLUSH_SECONDS = 0.05


class Counter:
    """Counts handled messages and announces the ``expect``-th one."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.count = 0

    def tick(self, n: int = 1) -> None:
        before = self.count
        self.count += n
        if before < self.expect <= self.count:
            print(f"done {self.count}", flush=True)


def _blocking_channel(url: str, prefetch: int) -> tuple[Any, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    return connection, channel


def run_plain(url: str, queue: str, prefetch: int, counter: Counter, print_acks: bool = False) -> None:
    _connection, channel = _blocking_channel(url, prefetch)

    def process_event(ch: Any, method: Any, _properties: Any, body: bytes) -> None:
        event = json.loads(body.decode())
        ch.basic_ack(delivery_tag=method.delivery_tag)
        counter.tick()
        if print_acks:
            print(f"acked {event.get('event_id')}", flush=True)

    channel.basic_consume(queue=queue, on_message_callback=process_event)
    print("consuming", flush=True)
    channel.start_consuming()


def run_autoack(url: str, queue: str, prefetch: int, counter: Counter) -> None:
    _connection, channel = _blocking_channel(url, prefetch)

    def process_event(_ch: Any, _method: Any, _properties: Any, body: bytes) -> None:
        json.loads(body.decode())
        counter.tick()

    channel.basic_consume(queue=queue, on_message_callback=process_event, auto_ack=True)
    print("consuming", flush=True)
    channel.start_consuming()


def run_plain_multi(url: str, queue: str, prefetch: int, counter: Counter) -> None:
    connection, channel = _blocking_channel(url, prefetch)
    batch = min(100, prefetch)
    pending: list[int] = []  # [last unacked tag, count] kept as a list for the closures

    def flush() -> None:
        if pending:
            channel.basic_ack(delivery_tag=pending[-1], multiple=True)
            counter.tick(len(pending))
            pending.clear()

    def idle_flush() -> None:
        flush()
        connection.call_later(IDLE_FLUSH_SECONDS, idle_flush)

    def process_event(_ch: Any, method: Any, _properties: Any, body: bytes) -> None:
        json.loads(body.decode())
        pending.append(method.delivery_tag)
        if len(pending) >= batch:
            flush()

    channel.basic_consume(queue=queue, on_message_callback=process_event)
    connection.call_later(IDLE_FLUSH_SECONDS, idle_flush)
    print("consuming", flush=True)
    channel.start_consuming()


def run_tutorial(url: str, queue: str, work_seconds: float, counter: Counter) -> None:
    """The tutorial's worker.py, with its URL, queue and sleep as parameters."""
    _connection, channel = _blocking_channel(url, 1)

    def process_event(ch: Any, method: Any, _properties: Any, body: bytes) -> None:
        event = json.loads(body.decode())
        print(f"[Worker] Received event: {event}")
        print(f"[Worker] Processing event type: {event.get('event', 'unknown')}")
        time.sleep(work_seconds)
        print("[Worker] Event processed successfully", flush=True)
        ch.basic_ack(delivery_tag=method.delivery_tag)
        counter.tick()

    channel.basic_consume(queue=queue, on_message_callback=process_event)
    print("consuming", flush=True)
    channel.start_consuming()


async def _aio_main(url: str, queue_name: str, prefetch: int, counter: Counter) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(queue_name, passive=True)

        async def process_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            json.loads(message.body.decode())
            await message.ack()
            counter.tick()

        await queue.consume(process_event)
        print("consuming", flush=True)
        await asyncio.Future()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clients")
    parser.add_argument("kind", choices=("plain", "plain-multi", "autoack", "aio", "tutorial"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--prefetch", type=int, default=1)
    parser.add_argument("--expect", type=int, default=0, help="print 'done N' after N acks")
    parser.add_argument("--work-seconds", type=float, default=2.0, help="tutorial: sleep")
    parser.add_argument("--print-acks", action="store_true", help="plain: a line per ack")
    args = parser.parse_args(argv)
    counter = Counter(args.expect)
    if args.kind == "plain":
        run_plain(args.url, args.queue, args.prefetch, counter, args.print_acks)
    elif args.kind == "plain-multi":
        run_plain_multi(args.url, args.queue, args.prefetch, counter)
    elif args.kind == "autoack":
        run_autoack(args.url, args.queue, args.prefetch, counter)
    elif args.kind == "tutorial":
        run_tutorial(args.url, args.queue, args.work_seconds, counter)
    else:
        asyncio.run(_aio_main(args.url, args.queue, args.prefetch, counter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
