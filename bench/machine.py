"""Facts about the machine and the broker a run measured, recorded with its results."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

from bench.target import Broker


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":" if ":" in line else "=")
            if name.strip() == key:
                return value.strip().strip('"')
    except OSError:
        return None
    return None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_pressure() -> float | None:
    """Share of the last 60 s in which some task waited for a CPU (Linux PSI), in percent."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(item.split("=") for item in first.split()[1:])
    return float(fields["avg60"])


def load() -> dict[str, Any]:
    return {
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "cpu_pressure_avg60_pct": cpu_pressure(),
    }


def facts(broker: Broker, private_broker: bool) -> dict[str, Any]:
    memory_kb = _first("/proc/meminfo", "MemTotal")
    overview: dict[str, Any] = {}
    if broker.has_management:
        overview = broker.overview()
    return {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "cores": os.cpu_count(),
        "ram_gb": round(int(memory_kb.split()[0]) / 1024 / 1024, 1) if memory_kb else None,
        "os": _first("/etc/os-release", "PRETTY_NAME"),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "pika": _version("pika"),
        "aio_pika": _version("aio-pika"),
        "event_worker": _version("event-worker"),
        "rabbitmq": overview.get("rabbitmq_version"),
        "erlang": overview.get("erlang_version"),
        "broker": "private node started by the benchmark (same machine)"
        if private_broker
        else f"{broker.parameters.host}:{broker.parameters.port}",
    }
