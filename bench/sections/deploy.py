"""Section 5: wall time of a first ``site.yml`` run on a fresh lab host, and of the second.

First the cost of more worker hosts: ``./lab up --workers N`` (one broker and N worker hosts,
all fresh) for N = 1, 2, 4. Then ``./lab down`` (removes the lab), ``./lab up`` (a fresh host,
first converge) and ``./lab converge`` (second converge, expected changed=0); after each the lab writes
``.lab/last-converge.json`` = {"seconds": N, "changed": N, "ok": N}.  Needs root and docker;
skipped (with the reason) otherwise, while other containers are running (the numbers would be
skewed and the lab would compete with them), and always in --tiny mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import charts
from bench.context import REPO, Context
from bench.lab import LAB, LABEL
from bench.stats import ratio

STATE = REPO / ".lab" / "last-converge.json"
TIMEOUT = 3600


def unavailable() -> str | None:
    """Why the deploy benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (the lab starts dockerd and systemd containers)"
    if not LAB.exists():
        return f"{LAB} not found"
    if "converge)" not in LAB.read_text():
        return "this ./lab has no 'converge' command"
    if shutil.which("docker") is None:
        return "docker is not installed (./lab up would install it: run it once first)"
    listed = subprocess.run(
        ["docker", "ps", "--format", '{{.Names}}\t{{.Label "' + LABEL + '"}}'],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if listed.returncode != 0:
        return f"docker is not usable: {listed.stderr.strip() or listed.stdout.strip()}"
    others = [line.split("\t")[0] for line in listed.stdout.splitlines() if not line.endswith("\ttrue")]
    if others:
        return f"other containers are running ({', '.join(sorted(others))})"
    return None


def lab(ctx: Context, *args: str) -> float:
    ctx.say(f"deploy: ./lab {' '.join(args)}")
    started = time.monotonic()
    result = subprocess.run(
        [str(LAB), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RuntimeError(f"./lab {' '.join(args)} failed ({result.returncode}):\n{tail}")
    return time.monotonic() - started


def converge_record() -> dict[str, int]:
    data: dict[str, int] = json.loads(STATE.read_text())
    return data


WORKER_HOSTS = (1, 2, 4)


def run(ctx: Context) -> dict[str, Any]:
    by_hosts: dict[str, int] = {}
    for count in WORKER_HOSTS:
        lab(ctx, "down")
        lab(ctx, "up", "--workers", str(count))
        by_hosts[str(count)] = converge_record()["seconds"]
    lab(ctx, "down")
    up_wall = lab(ctx, "up")
    first = converge_record()
    converge_wall = lab(ctx, "converge")
    second = converge_record()
    return {
        "first": {**first, "command": "./lab up", "command_seconds": round(up_wall, 1)},
        "second": {
            **second,
            "command": "./lab converge",
            "command_seconds": round(converge_wall, 1),
        },
        "second_over_first": ratio(second["seconds"], first["seconds"]),
        "worker_hosts": by_hosts,
        "four_over_one_worker_host": ratio(by_hosts["4"], by_hosts["1"]),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| Run | site.yml (s) | changed | ok | whole command (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in (("first", "first, fresh host"), ("second", "second (idempotent)")):
        run = result[key]
        lines.append(
            f"| {name} (`{run['command']}`) | {run['seconds']} | {run['changed']} | {run['ok']} | "
            f"{run['command_seconds']} |"
        )
    share = result["second_over_first"]
    lines.append("")
    lines.append(f"Second / first: {'n/a' if share is None else f'{share:.2f}'}.")
    hosts = result.get("worker_hosts", {})
    if hosts:
        lines += ["", "| worker hosts (and one broker host) | first site.yml (s) | x one worker host |"]
        lines.append("|---:|---:|---:|")
        for count, seconds in hosts.items():
            lines.append(f"| {count} | {seconds} | {ratio(seconds, hosts['1']) or 0:.2f} |")
    return "\n".join(lines)


def chart(result: dict[str, Any], path: Path) -> None:
    charts.horizontal_bars(
        path,
        title="site.yml wall time on lab hosts (one run)",
        labels=[
            "first converge (fresh host)",
            "second converge (changed=0)",
            *(f"first, broker + {n} worker host{'s' if n != '1' else ''}" for n in result.get("worker_hosts", {})),
        ],
        values=[result["first"]["seconds"], result["second"]["seconds"], *result.get("worker_hosts", {}).values()],
        xlabel="seconds",
    )
