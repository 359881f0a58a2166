"""Section 2: the tutorial's workload, order events with simulated I/O of a fixed length.

The tutorial's worker.py (prefetch 1, one process, ``time.sleep`` in the callback) against the
kit's ``orders`` handler with the kit's defaults (concurrency 100, one process), and with the
one setting that matters for I/O-bound work raised.  The tutorial's worker runs once: its time
is the sum of its sleeps, so repeating it would only repeat the same number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import charts
from bench.consumers import KIT_DEFAULT_PREFETCH, Consumer
from bench.context import Context
from bench.drain import drain
from bench.stats import median, ratio


def run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    events, work = plan.tutorial_events, plan.tutorial_work_seconds
    queue = ctx.work_queue("tutorial")
    scratch = ctx.scratch("tutorial")
    options = {"work_seconds": work}
    variants: list[tuple[str, Consumer, int | None, int]] = [
        (
            "tutorial worker.py (prefetch 1, one process)",
            Consumer("tutorial", "tutorial", options=options),
            1,
            1,
        ),
        (
            f"kit defaults (concurrency {KIT_DEFAULT_PREFETCH}, one process)",
            Consumer("kit", "kit", handler="orders", options=options),
            None,
            plan.repeats,
        ),
        (
            f"kit, concurrency {plan.tutorial_concurrency} (one process)",
            Consumer("kit", "kit", handler="orders", options=options),
            plan.tutorial_concurrency,
            plan.repeats,
        ),
    ]
    rows: list[dict[str, Any]] = []
    timeout = events * work * 1.5 + 60
    for label, consumer, prefetch, runs in variants:
        seconds = []
        for _ in range(runs):
            ctx.broker.fill(queue, events)
            result = drain(
                ctx.broker,
                queue,
                consumer,
                scratch,
                messages=events,
                prefetch=prefetch,
                timeout=timeout,
            )
            seconds.append(result.seconds)
            ctx.say(f"tutorial workload: {label}: {result.seconds:.2f} s")
        rows.append(
            {
                "variant": label,
                "prefetch": prefetch if prefetch is not None else KIT_DEFAULT_PREFETCH,
                "wall_seconds": median(seconds),
                "runs": [round(s, 3) for s in seconds],
                "events_per_s": events / median(seconds),
            }
        )
    baseline = rows[0]["wall_seconds"]
    for row in rows:
        row["speedup"] = ratio(baseline, row["wall_seconds"])
    return {"events": events, "work_seconds": work, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['events']} order events, {result['work_seconds']:g} s of simulated I/O each.",
        "",
        "| Worker | Wall time (s) | Events/s | Speed-up vs tutorial |",
        "|---|---:|---:|---:|",
    ]
    for row in result["rows"]:
        speedup = row["speedup"]
        lines.append(
            f"| {row['variant']} | {row['wall_seconds']:.2f} | {row['events_per_s']:.1f} | "
            f"{'n/a' if speedup is None else f'{speedup:.1f}x'} |"
        )
    return "\n".join(lines)


def chart(result: dict[str, Any], path: Path) -> None:
    charts.horizontal_bars(
        path,
        title=(
            f"Tutorial workload: {result['events']} events x {result['work_seconds']:g} s I/O "
            "(wall time, lower is better)"
        ),
        labels=[row["variant"] for row in result["rows"]],
        values=[row["wall_seconds"] for row in result["rows"]],
        xlabel="seconds",
    )
