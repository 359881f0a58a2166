"""The topology role's cost curve: playbooks/topology.yml alone, first and second run, by size.

    python -m bench.topology_curve --inventory INVENTORY [--vars FILE] [--sizes 10 100 1000]

(the lab: --inventory .lab/inventory.ini --vars .lab/secrets.yml)

Each size N declares, in a vhost of its own (bench-N, deleted first), one topic exchange and N
worker queues, each bound to it, with the kit's dead-letter and retry path: per worker queue 3
queues, 2 exchanges and 3 bindings, plus a few shared policies (2 per queue before the shared
ones; the objects column counts 10 per queue either way). Runs against the inventory's first broker (a
lab host or a molecule instance) and prints a markdown table of wall times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.context import REPO

TIMEOUT = 3600


def variables(size: int) -> dict[str, object]:
    queues = [f"q{i:04d}" for i in range(size)]
    return {
        "rabbitmq_topology_vhost": f"bench-{size}",
        "rabbitmq_topology_exchanges": [{"name": "events", "type": "topic"}],
        "rabbitmq_topology_queues": [{"name": q} for q in queues],
        "rabbitmq_topology_bindings": [{"source": "events", "destination": q, "routing_key": f"k.{q}"} for q in queues],
        "rabbitmq_topology_publishers": [],
    }


def converge(inventory: str, extra: Path, var_files: Sequence[Path] = ()) -> tuple[float, str]:
    """One topology.yml run; returns (seconds, the PLAY RECAP line of the broker)."""
    started = time.monotonic()
    files = [arg for path in var_files for arg in ("-e", f"@{path}")]
    result = subprocess.run(
        ["ansible-playbook", "-i", inventory, "playbooks/topology.yml", *files, "-e", f"@{extra}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError("topology.yml failed:\n" + "\n".join(result.stdout.splitlines()[-30:]))
    recap = [line for line in result.stdout.splitlines() if " changed=" in line and "unreachable=" in line]
    return seconds, recap[-1] if recap else ""


def changed(recap: str) -> str:
    return next((word.split("=")[1] for word in recap.split() if word.startswith("changed=")), "?")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--vars", type=Path, action="append", default=[], help="a variables file (the passwords)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args(argv)
    rows = [
        "| worker queues | objects | first run (s) | changed | second run (s) | changed |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            extra = Path(scratch) / f"topology-{size}.json"
            extra.write_text(json.dumps(variables(size)))
            subprocess.run(
                ["ansible", "-i", args.inventory, "rabbitmq[0]", "-b", "-m", "ansible.builtin.command",
                 "-a", f"rabbitmqctl delete_vhost bench-{size}"],
                cwd=REPO, capture_output=True, check=False, timeout=600,
            )  # fmt: skip
            first, first_recap = converge(args.inventory, extra, args.vars)
            second, second_recap = converge(args.inventory, extra, args.vars)
            runs = f"{first:.1f} | {changed(first_recap)} | {second:.1f} | {changed(second_recap)}"
            rows.append(f"| {size} | {10 * size + 1} | {runs} |")
            print(rows[-1], flush=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
