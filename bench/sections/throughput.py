"""Section 1: drain rate of a pre-filled queue (persistent 100-byte events, no-op handling).

Every consumer drains the same content (fill, drain by A, refill, drain by B, ...), round after
round, with the order rotated each round so none always runs first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import charts
from bench.consumers import AIO, AUTOACK, KIT, KIT_BATCH, PLAIN, PLAIN_MULTI, Consumer
from bench.context import Context
from bench.drain import drain
from bench.stats import median, ratio
from bench.target import BODY_BYTES

CONSUMERS: tuple[Consumer, ...] = (KIT, KIT_BATCH, PLAIN, AIO, PLAIN_MULTI, AUTOACK)


def run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    queue = ctx.work_queue("throughput")
    scratch = ctx.scratch("throughput")
    rows: list[dict[str, Any]] = []
    for prefetch in plan.prefetches:
        rates: dict[str, list[float]] = {c.kind: [] for c in CONSUMERS}
        cpu: dict[str, list[float]] = {c.kind: [] for c in CONSUMERS}
        for round_no in range(plan.repeats):
            shift = round_no % len(CONSUMERS)
            for consumer in CONSUMERS[shift:] + CONSUMERS[:shift]:
                ctx.broker.fill(queue, plan.messages)
                result = drain(
                    ctx.broker,
                    queue,
                    consumer,
                    scratch,
                    messages=plan.messages,
                    prefetch=prefetch,
                )
                rates[consumer.kind].append(result.rate)
                cpu[consumer.kind].append(result.cpu_seconds / result.messages * 1e6)
                ctx.say(f"throughput prefetch {prefetch}: {consumer.kind} {result.rate:,.0f} msgs/s")
        for consumer in CONSUMERS:
            rows.append(
                {
                    "consumer": consumer.kind,
                    "label": consumer.label,
                    "prefetch": prefetch,
                    "msgs_per_s": median(rates[consumer.kind]),
                    "runs": [round(r, 1) for r in rates[consumer.kind]],
                    "cpu_us_per_msg": round(median(cpu[consumer.kind]), 1),
                }
            )
    return {
        "messages": plan.messages,
        "body_bytes": BODY_BYTES,
        "repeats": plan.repeats,
        "rows": rows,
        "ratios": _ratios(rows, plan.prefetches),
    }


def _ratios(rows: list[dict[str, Any]], prefetches: tuple[int, ...]) -> list[dict[str, Any]]:
    def rate(kind: str, prefetch: int) -> float:
        return next(float(r["msgs_per_s"]) for r in rows if r["consumer"] == kind and r["prefetch"] == prefetch)

    return [
        {
            "prefetch": p,
            "kit_over_plain": ratio(rate("kit", p), rate("plain", p)),
            "kit_over_aio": ratio(rate("kit", p), rate("aio", p)),
            "kit_over_autoack": ratio(rate("kit", p), rate("autoack", p)),
            "kit_batch_over_autoack": ratio(rate("kit-batch", p), rate("autoack", p)),
        }
        for p in prefetches
    ]


def markdown(result: dict[str, Any]) -> str:
    prefetches = sorted({r["prefetch"] for r in result["rows"]})
    head = "| Consumer | " + " | ".join(f"prefetch {p}" for p in prefetches) + " |"
    lines = [head, "|---|" + "---:|" * len(prefetches)]
    for kind in dict.fromkeys(r["consumer"] for r in result["rows"]):
        cells = []
        label = ""
        for p in prefetches:
            row = next(r for r in result["rows"] if r["consumer"] == kind and r["prefetch"] == p)
            label = row["label"]
            cells.append(f"{row['msgs_per_s']:,.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, name in (
        ("kit_over_plain", "**kit / plain**"),
        ("kit_over_aio", "kit / aio-pika"),
        ("kit_over_autoack", "kit / auto-ack ceiling"),
        ("kit_batch_over_autoack", "**kit, batch handler / auto-ack ceiling**"),
    ):
        cells = [_fmt_ratio(r.get(key)) for r in result["ratios"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("CPU time of the consumer process per message (µs), medians:")
    lines.append("")
    lines.append("| Consumer | " + " | ".join(f"prefetch {p}" for p in prefetches) + " |")
    lines.append("|---|" + "---:|" * len(prefetches))
    for kind in dict.fromkeys(r["consumer"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["consumer"] == kind]
        cells = [f"{r['cpu_us_per_msg']:.0f}" for r in sorted(rows, key=lambda r: r["prefetch"])]
        lines.append(f"| {rows[0]['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def chart(result: dict[str, Any], path: Path) -> None:
    prefetches = sorted({r["prefetch"] for r in result["rows"]})
    series: dict[str, list[float]] = {}
    for row in result["rows"]:
        series.setdefault(row["label"], [0.0] * len(prefetches))
        series[row["label"]][prefetches.index(row["prefetch"])] = row["msgs_per_s"]
    charts.grouped_bars(
        path,
        title=f"Drain rate, {result['messages']:,} persistent {result['body_bytes']}-byte messages",
        groups=[f"prefetch {p}" for p in prefetches],
        series=series,
        ylabel="messages / s (median)",
    )
