"""results.json, results.md and the charts, from the sections' results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.sections import deploy, latency, publisher, scaling, throughput, tutorial

SECTIONS = {
    "throughput": throughput,
    "tutorial": tutorial,
    "latency": latency,
    "scaling": scaling,
    "deploy": deploy,
    "publisher": publisher,
}
TITLES = {
    "throughput": "1. Throughput: the kit's worker against plain pika and aio-pika",
    "tutorial": "2. The tutorial's workload",
    "latency": "3. End-to-end latency",
    "scaling": "4. Scaling with worker processes",
    "deploy": "5. Deploy: site.yml onto 1, 2 and 4 worker hosts; into a fresh lab host, then again",
    "publisher": "6. The publisher: confirmed publishes",
}


def goals(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, judged from the measured ratios (None: not measured)."""
    rows: list[dict[str, Any]] = []
    tp = sections.get("throughput", {})
    ratios = {r["prefetch"]: r for r in tp.get("ratios", [])}
    for prefetch in (100, 300):
        value = ratios.get(prefetch, {}).get("kit_over_plain")
        rows.append(_goal(f"kit / plain throughput at prefetch {prefetch}", ">= 0.9", value, 0.9))
    value = ratios.get(300, {}).get("kit_over_plain")
    rows.append(_goal("kit / plain throughput at prefetch 300 (target)", ">= 2", value, 2.0))
    value = ratios.get(300, {}).get("kit_over_autoack")
    rows.append(_goal("kit / auto-ack ceiling at prefetch 300 (target)", ">= 0.8", value, 0.8))
    value = ratios.get(300, {}).get("kit_batch_over_autoack")
    rows.append(_goal("kit with a no-op batch handler / auto-ack ceiling at prefetch 300", ">= 0.8", value, 0.8))
    tut = sections.get("tutorial", {}).get("rows", [])
    value = tut[1]["speedup"] if len(tut) > 1 else None
    rows.append(_goal("tutorial workload, kit defaults vs tutorial worker", ">= 50x", value, 50))
    dep = sections.get("deploy", {})
    value = dep.get("second_over_first")
    rows.append(_goal("second converge / first converge", "<= 0.25", value, 0.25, higher_is_better=False))
    value = dep.get("four_over_one_worker_host")
    rows.append(_goal("site.yml onto 4 worker hosts / onto 1", "<= 1.5", value, 1.5, higher_is_better=False))
    return rows


def _goal(
    name: str, target: str, value: float | None, bound: float, *, higher_is_better: bool = True
) -> dict[str, Any]:
    met = None if value is None else (value >= bound if higher_is_better else value <= bound)
    return {"goal": name, "target": target, "measured": value, "met": met}


def write(out: Path, results: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, result in results["sections"].items():
        if "skipped" in result or "error" in result:
            continue
        SECTIONS[name].chart(result, out / f"{name}.png")
    (out / "results.md").write_text(markdown(results, out))


README_START = "<!-- bench summary: written by python -m bench -->"
README_END = "<!-- end of bench summary -->"


def summary(results: dict[str, Any]) -> str:
    """The machine, the goals and the throughput table, for the top-level README."""
    machine = results["machine"]
    host = ", ".join(
        f"{machine[key]}{suffix}"
        for key, suffix in (("cpu", ""), ("cores", " cores"), ("arch", ""), ("os", ""))
        if machine.get(key) is not None
    )
    lines = [
        f"Latest run: {results['finished']}, `{results['command']}`, on {host}; "
        f"RabbitMQ {machine.get('rabbitmq')}, Erlang {machine.get('erlang')}, "
        f"{machine.get('broker')}."
        + (
            " Sections it did not run keep their earlier numbers (dated in results.md)."
            if "--only" in results["command"]
            else ""
        ),
        "",
        "| Goal | Target | Measured | Met |",
        "|---|---|---:|---|",
    ]
    for goal in results["goals"]:
        value = goal["measured"]
        shown = "not measured" if value is None else f"{value:.2f}"
        met = {True: "yes", False: "**no**", None: "-"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {goal['target']} | {shown} | {met} |")
    tp = results["sections"].get("throughput", {})
    if "rows" in tp:
        lines += ["", "Throughput (msgs/s):", "", throughput.markdown(tp)]
    return "\n".join(lines)


def update_readme(readme: Path, results: dict[str, Any]) -> bool:
    """Rewrite the summary block of the README; False when the README has no such block."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{summary(results)}\n{README_END}{tail}")
    return True


def markdown(results: dict[str, Any], out: Path) -> str:
    machine = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['finished']} with `{results['command']}` "
        f"({results['mode']} mode; total {results['seconds']:.0f} s).",
        "",
        "| Machine | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in machine.items() if value is not None]
    load = results.get("load", {})
    if load:
        lines.append(
            f"| load (start, end) | loadavg {load['start']['loadavg_1m']} / "
            f"{load['end']['loadavg_1m']}; CPU pressure avg60 "
            f"{load['start']['cpu_pressure_avg60_pct']} % / {load['end']['cpu_pressure_avg60_pct']} % |"
        )
    lines += ["", "## Goals", "", "| Goal | Target | Measured | Met |", "|---|---|---:|---|"]
    for goal in results["goals"]:
        value = goal["measured"]
        shown = "not measured" if value is None else f"{value:.2f}"
        met = {True: "yes", False: "**no**", None: "-"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {goal['target']} | {shown} | {met} |")
    for name, result in results["sections"].items():
        lines += ["", f"## {TITLES[name]}", ""]
        if "skipped" in result:
            lines.append(f"Skipped: {result['skipped']}.")
            continue
        if "error" in result:
            lines.append(f"Failed: {result['error']}")
            continue
        lines.append(SECTIONS[name].markdown(result))
        if (out / f"{name}.png").exists():
            lines += ["", f"![{name}]({name}.png)"]
        lines += ["", f"_Measured {result['measured_at']}._"]
    return "\n".join(lines) + "\n"
