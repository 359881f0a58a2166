"""``python -m bench``: run the benchmarks, write results.json, results.md and PNG charts."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import lab, machine, report
from bench.context import REPO, Context
from bench.plan import FULL, TINY
from bench.sections import deploy
from bench.target import Broker
from testbed.rabbitnode import RabbitNode

DEFAULT_OUT = REPO / "bench" / "results"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the kit: worker throughput against plain pika and aio-pika, the "
        "tutorial's workload, latency, scaling, deploy time and the publisher. Without --url a "
        "private RabbitMQ node is started (own ports and data directory, removed afterwards).",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="broker to measure, amqp://user:pass@host:5672/%%2F (the user needs configure "
        "permission: queues named bench.* are declared and deleted)",
    )
    parser.add_argument(
        "--lab",
        action="store_true",
        help="measure the broker of the local lab (./lab up) as its admin user",
    )
    parser.add_argument(
        "--management-url",
        metavar="URL",
        help="its management API, for the RabbitMQ and Erlang versions (default: http://HOST:15672, same credentials)",
    )
    parser.add_argument("--tiny", action="store_true", help="small counts, about a minute")
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help=f"run only these sections ({', '.join(report.SECTIONS)}); the others are kept "
        "from the results already in --out",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results directory (default: {DEFAULT_OUT})")
    return parser


def redact(text: str) -> str:
    """Hide the password of any amqp(s):// URL in ``text``."""
    return re.sub(r"(amqps?://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def chosen_sections(only: str | None, parser: argparse.ArgumentParser) -> list[str]:
    if only is None:
        return list(report.SECTIONS)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in report.SECTIONS]
    if unknown or not names:
        parser.error(f"--only: unknown section(s) {unknown}; choose from {list(report.SECTIONS)}")
    return [name for name in report.SECTIONS if name in names]


def run_section(ctx: Context, name: str) -> dict[str, Any]:
    if name == "deploy":
        why = "not in --tiny mode" if ctx.tiny else deploy.unavailable()
        if why is not None:
            ctx.say(f"deploy: skipped: {why}")
            return {"skipped": why}
    ctx.say(f"section {name}")
    started = time.monotonic()
    try:
        result: dict[str, Any] = report.SECTIONS[name].run(ctx)
    except Exception as exc:
        ctx.say(f"section {name} FAILED: {exc}")
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}
    result["section_seconds"] = round(time.monotonic() - started, 1)
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = chosen_sections(args.only, parser)
    if args.lab:
        if args.url:
            parser.error("--lab and --url exclude each other")
        try:
            args.url = lab.broker_url()
        except lab.LabError as exc:
            parser.error(f"--lab: {exc}")
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    plan = TINY if args.tiny else FULL
    started = time.monotonic()
    load_start = machine.load()
    given = argv if argv is not None else sys.argv[1:]
    command = "python -m bench " + " ".join(redact(a) for a in given)
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        workdir = Path(tmp)
        local: RabbitNode | None = None
        if args.url:
            broker = Broker(args.url, args.management_url)
        else:
            local = RabbitNode(workdir / "broker", management=True, log_level="warning")
            print("[bench] starting a private RabbitMQ node", file=sys.stderr, flush=True)
            local.start()
            broker = Broker(local.url, local.http_url)
        ctx = Context(broker=broker, workdir=workdir, plan=plan, tiny=args.tiny)
        try:
            facts = machine.facts(broker, private_broker=local is not None)
            # Deploy last: it leaves the lab's containers running.
            run_order = sorted(names, key=lambda name: name == "deploy")
            sections = {name: run_section(ctx, name) for name in run_order}
            ctx.cleanup()
        finally:
            broker.close()
            if local is not None:
                local.close()
    previous = _previous(args.out) if args.only else {}
    merged = {**previous.get("sections", {}), **sections}
    ordered = {name: merged[name] for name in report.SECTIONS if name in merged}
    results = {
        "command": command.strip(),
        "mode": "tiny" if args.tiny else "full",
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": facts,
        "load": {"start": load_start, "end": machine.load()},
        "sections": ordered,
        "goals": report.goals(ordered),
    }
    report.write(args.out, results)
    print(f"[bench] results in {args.out}/results.md", file=sys.stderr)
    if args.out.resolve() == DEFAULT_OUT and not args.tiny and report.update_readme(REPO / "README.md", results):
        print("[bench] summary updated in README.md", file=sys.stderr)
    failed = [name for name, result in sections.items() if "error" in result]
    return 1 if failed else 0


def _previous(out: Path) -> dict[str, Any]:
    path = out / "results.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data
