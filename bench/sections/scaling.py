"""Section 4: 1, 2 and 4 kit worker processes on one queue (no-op handler, kit defaults).

All processes are attached before the messages are released to them (see :mod:`bench.drain`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import charts
from bench.consumers import KIT, KIT_DEFAULT_PREFETCH
from bench.context import Context
from bench.drain import drain
from bench.stats import median, ratio


def run(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    queue = ctx.work_queue("scaling")
    scratch = ctx.scratch("scaling")
    rates: dict[int, list[float]] = {p: [] for p in plan.scaling_processes}
    for round_no in range(plan.repeats):
        order = list(plan.scaling_processes)
        shift = round_no % len(order)
        for processes in order[shift:] + order[:shift]:
            ctx.broker.fill(queue, plan.scaling_messages)
            result = drain(
                ctx.broker,
                queue,
                KIT,
                scratch,
                messages=plan.scaling_messages,
                prefetch=None,
                processes=processes,
            )
            rates[processes].append(result.rate)
            ctx.say(f"scaling: {processes} process(es) {result.rate:,.0f} msgs/s")
    single = median(rates[plan.scaling_processes[0]])
    rows = [
        {
            "processes": p,
            "msgs_per_s": median(rates[p]),
            "runs": [round(r, 1) for r in rates[p]],
            "speedup": ratio(median(rates[p]), single),
        }
        for p in plan.scaling_processes
    ]
    return {
        "messages": plan.scaling_messages,
        "prefetch": KIT_DEFAULT_PREFETCH,
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['messages']:,} persistent messages, no-op handler, concurrency {result['prefetch']} per process.",
        "",
        "| Worker processes | msgs/s | vs one process |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {r['processes']} | {r['msgs_per_s']:,.0f} | {_times(r['speedup'])} |" for r in result["rows"]]
    return "\n".join(lines)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def chart(result: dict[str, Any], path: Path) -> None:
    charts.grouped_bars(
        path,
        title=f"Kit worker processes on one queue (concurrency {result['prefetch']} each)",
        groups=[f"{r['processes']} process{'es' if r['processes'] > 1 else ''}" for r in result["rows"]],
        series={"kit worker": [r["msgs_per_s"] for r in result["rows"]]},
        ylabel="messages / s (median)",
    )
