"""Section 3: end-to-end latency, publish to ack, at a fixed offered rate below saturation.

A paced publisher (one persistent message every 1/rate s) stamps each event id with the
monotonic clock just before ``basic.publish``.  The consumer writes a line after each ack (the
kit's settle line; the plain baseline's ``acked ID``); a reader thread stamps each line on
arrival.  Latency = arrival - publish.  The first 5 % of samples (warm-up) are left out.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pika

from bench import charts
from bench.consumers import KIT, PLAIN, Consumer
from bench.context import REPO, Context
from bench.procs import child_env
from bench.stats import percentile
from bench.target import event_body
from testbed.waiting import wait_until

STAMP = re.compile(r"lat-(\d+)-(\d+)")
WARM_UP = 0.05


class AckClock:
    """A consumer child whose stdout lines are time-stamped as they arrive."""

    def __init__(self, argv: list[str]) -> None:
        self.latencies_ns: dict[int, int] = {}
        self.output: list[str] = []
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=child_env(),
            cwd=REPO,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            now = time.monotonic_ns()
            match = STAMP.search(line)
            if match is None:
                self.output.append(line)
                continue
            self.latencies_ns.setdefault(int(match[1]), now - int(match[2]))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=10)


def publish_paced(parameters: pika.URLParameters, queue: str, rate: int, count: int) -> float:
    """Publish ``count`` stamped events at ``rate``/s; returns the achieved rate."""
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent)
    interval_ns = 1_000_000_000 // rate
    start = time.monotonic_ns()
    for seq in range(count):
        delay = start + seq * interval_ns - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        sent = time.monotonic_ns()
        channel.basic_publish("", queue, event_body(seq, event_id=f"lat-{seq}-{sent}"), properties)
    elapsed = (time.monotonic_ns() - start) / 1e9
    connection.close()
    return count / elapsed if elapsed > 0 else 0.0


def measure(ctx: Context, consumer: Consumer, queue: str, scratch: Path) -> dict[str, Any]:
    plan = ctx.plan
    count = int(plan.latency_rate * plan.latency_seconds)
    argv = consumer.command(ctx.broker, queue, scratch, prefetch=plan.latency_prefetch, print_acks=True)
    clock = AckClock(argv)
    try:
        wait_until(lambda: ctx.broker.amqp_counts(queue)[1] >= 1, 60, interval=0.05, what=f"{consumer.kind} to attach")
        achieved = publish_paced(ctx.broker.parameters, queue, plan.latency_rate, count)
        wait_until(
            lambda: len(clock.latencies_ns) >= count, 60, interval=0.05, what=f"{count} acks from {consumer.kind}"
        )
    except TimeoutError as exc:
        raise RuntimeError(f"{exc}; output:\n{''.join(clock.output[-40:])}") from None
    finally:
        clock.stop()
    samples = [clock.latencies_ns[seq] / 1e6 for seq in sorted(clock.latencies_ns)]
    samples = samples[int(len(samples) * WARM_UP) :]
    return {
        "consumer": consumer.kind,
        "label": consumer.label,
        "samples": len(samples),
        "published_per_s": round(achieved, 1),
        "p50_ms": round(percentile(samples, 50), 3),
        "p95_ms": round(percentile(samples, 95), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "max_ms": round(max(samples), 3),
    }


def run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    queue = ctx.work_queue("latency")
    scratch = ctx.scratch("latency")
    rows = []
    for consumer in (KIT, PLAIN):
        ctx.broker.purge(queue)
        row = measure(ctx, consumer, queue, scratch)
        ctx.say(f"latency {consumer.kind}: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms")
        rows.append(row)
    return {
        "offered_per_s": plan.latency_rate,
        "seconds": plan.latency_seconds,
        "prefetch": plan.latency_prefetch,
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Offered rate {result['offered_per_s']:,} msgs/s for {result['seconds']:g} s, "
        f"prefetch {result['prefetch']}, persistent messages, publish to ack.",
        "",
        "| Consumer | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | samples |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['label']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | "
        f"{r['max_ms']:.1f} | {r['samples']:,} |"
        for r in result["rows"]
    ]
    return "\n".join(lines)


def chart(result: dict[str, Any], path: Path) -> None:
    charts.grouped_bars(
        path,
        title=(f"Publish-to-ack latency at {result['offered_per_s']:,} msgs/s (prefetch {result['prefetch']})"),
        groups=["p50", "p95", "p99"],
        series={r["label"]: [r["p50_ms"], r["p95_ms"], r["p99_ms"]] for r in result["rows"]},
        ylabel="milliseconds",
    )
