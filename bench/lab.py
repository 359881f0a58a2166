"""The kit's local lab (``./lab up``): where its broker is and how to log in to it."""

from __future__ import annotations

import subprocess
import urllib.parse

from bench.context import REPO

LAB = REPO / "lab"
LABEL = "rabbitmq-kit-lab"
PASSWORD_FILE = REPO / ".lab" / "admin-password"


class LabError(RuntimeError):
    """The lab is not up, or its broker cannot be found."""


def _docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise LabError(f"docker {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def broker_url() -> str:
    """amqp://admin:PASSWORD@BROKER-IP:5672/%2F for the lab's first broker host."""
    if not PASSWORD_FILE.exists():
        raise LabError(f"{PASSWORD_FILE} not found: is the lab up? (sudo ./lab up)")
    names = _docker("ps", "--filter", f"label={LABEL}", "--format", "{{.Names}}").split()
    brokers = sorted(name for name in names if "worker" not in name)
    if not brokers:
        raise LabError("no running lab broker container: sudo ./lab up")
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    addresses = _docker("inspect", "-f", template, brokers[0]).split()
    if not addresses:
        raise LabError(f"{brokers[0]} has no IP address")
    password = urllib.parse.quote(PASSWORD_FILE.read_text().strip(), safe="")
    return f"amqp://admin:{password}@{addresses[0]}:5672/%2F"
