"""Section 6: confirmed publishes per second with the kit's ``event-publish``.

``--window 1`` waits for each confirm; larger windows pipeline them (the broker confirms in
batches with multiple=True).  A plain pika BlockingConnection in confirm mode, one publish at
a time, is the reference.  Persistent 100-byte JSON events to one durable queue.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pika

from bench import charts
from bench.context import REPO, Context
from bench.procs import BIN_DIR, child_env
from bench.stats import median, ratio
from bench.target import event_body

SUMMARY = re.compile(r"published (\d+), confirmed (\d+) in ([\d.]+) s")


def event_publish(ctx: Context, queue: str, count: int, window: int) -> float:
    """Run ``event-publish``; its own summary line gives the rate (Python start-up excluded)."""
    payload = event_body(0).decode()
    result = subprocess.run(
        [
            str(BIN_DIR / "event-publish"),
            "--url",
            ctx.broker.url,
            "--routing-key",
            queue,
            "--count",
            str(count),
            "--window",
            str(window),
            payload,
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO,
        timeout=600,
        check=False,
    )
    match = SUMMARY.search(result.stderr)
    if result.returncode != 0 or match is None or int(match[2]) != count:
        raise RuntimeError(f"event-publish failed ({result.returncode}): {result.stderr.strip()}")
    return count / float(match[3])


def plain_confirmed(ctx: Context, queue: str, count: int) -> float:
    """pika BlockingConnection, confirm_delivery(), one basic_publish at a time."""
    connection = pika.BlockingConnection(ctx.broker.parameters)
    channel = connection.channel()
    channel.confirm_delivery()
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent)
    start = time.monotonic()
    for seq in range(count):
        channel.basic_publish("", queue, event_body(seq), properties, mandatory=True)
    elapsed = time.monotonic() - start
    connection.close()
    return count / elapsed


def run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    queue = ctx.work_queue("publisher")
    variants: list[tuple[str, int, int | None]] = [
        ("plain pika, confirm each (BlockingConnection)", plan.publish_single, None),
    ]
    for size in plan.publish_windows:
        count = plan.publish_single if size == 1 else plan.publish_batched
        name = "confirm each" if size == 1 else f"{size} unconfirmed in flight"
        variants.append((f"event-publish --window {size} ({name})", count, size))
    rows: list[dict[str, Any]] = []
    for label, count, window in variants:
        rates = []
        for _ in range(plan.repeats):
            ctx.broker.purge(queue)
            if window is None:
                rates.append(plain_confirmed(ctx, queue, count))
            else:
                rates.append(event_publish(ctx, queue, count, window))
            ctx.say(f"publisher: {label}: {rates[-1]:,.0f} msgs/s")
        rows.append(
            {
                "variant": label,
                "window": window,
                "messages": count,
                "msgs_per_s": median(rates),
                "runs": [round(r, 1) for r in rates],
            }
        )
    ctx.broker.purge(queue)
    single = next(r["msgs_per_s"] for r in rows if r["window"] == 1)
    for row in rows:
        row["vs_window_1"] = ratio(row["msgs_per_s"], single)
    return {"rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| Publisher | Messages | Confirmed msgs/s | vs --window 1 |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['variant']} | {r['messages']:,} | {r['msgs_per_s']:,.0f} | {_times(r['vs_window_1'])} |"
        for r in result["rows"]
    ]
    return "\n".join(lines)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def chart(result: dict[str, Any], path: Path) -> None:
    charts.horizontal_bars(
        path,
        title="Confirmed publishes per second (persistent 100-byte events)",
        labels=[r["variant"] for r in result["rows"]],
        values=[r["msgs_per_s"] for r in result["rows"]],
        xlabel="messages / s (median)",
    )
