"""Helpers shared by the scenarios' testinfra tests (imported by each scenario's conftest)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The scenarios' conftest.py put only molecule/common on sys.path: the kit's one wait_until is in the
# repository's testbed/waiting.py, two levels up from here.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from testbed.waiting import wait_until as wait_until  # noqa: E402  (re-exported for the scenarios' tests)


def journal_text(host):
    """Every field of every journal entry on host, as text (_CMDLINE, MESSAGE and the rest).

    journald gives a field that is not valid UTF-8 as a list of bytes, and a field
    repeated in one entry as a list of values.
    """
    values = []
    for line in host.check_output("journalctl --output json --no-pager --all").splitlines():
        for value in json.loads(line).values():
            items = value if isinstance(value, list) and value and isinstance(value[0], list | str) else [value]
            for item in items:
                is_bytes = isinstance(item, list) and all(isinstance(b, int) for b in item)
                values.append(bytes(item).decode("utf-8", "replace") if is_bytes else str(item))
    return "\n".join(values)


class Admin:
    """rabbitmqadmin on the broker host, as root (credentials in /root/.rabbitmqadmin.conf)."""

    def __init__(self, host):
        self.host = host

    def run(self, *args):
        return self.host.check_output("rabbitmqadmin " + " ".join(args))

    def json(self, *args):
        return json.loads(self.run("-f raw_json", *args))

    def publish(self, exchange, routing_key, payload):
        return self.run(
            f"publish exchange={exchange} routing_key={routing_key} "
            f"payload='{json.dumps(payload)}' properties='{{\"delivery_mode\": 2}}'"
        )

    def get(self, queue, count=1, ackmode="ack_requeue_false"):
        return self.json(f"get queue={queue} count={count} ackmode={ackmode}")

    def depth(self, queue):
        out = self.host.check_output("rabbitmqctl list_queues name messages --formatter json")
        return {row["name"]: row["messages"] for row in json.loads(out)}[queue]


PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[2]))

# What a role does through the management API or on the controller is the same on every
# platform and over TLS: the checks of it that re-run playbooks (tens of seconds each) run
# once, in the plain Debian 13 run of the default scenario.
role_logic = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "default" or os.environ.get("MOLECULE_TLS") == "true",
    reason="role logic, checked once by the plain default scenario",
)


def ansible_env():
    """The environment for running the kit's playbooks: its roles, and itself as armkit.rabbitmq."""
    return dict(
        os.environ,
        ANSIBLE_ROLES_PATH=str(PROJECT / "roles"),
        ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )


def playbook(path, *extra, timeout=600):
    """Run a playbook of the kit (path from the project root) with the scenario's inventory.

    Returns (exit code, stdout and stderr together).
    """
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PROJECT / path), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ansible_env(),
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout


def task_outcomes(output, name):
    """How each host ended every task called NAME in a playbook run's output, in order:
    'ok', 'changed', 'skipping', 'fatal' or 'failed' (the default callback's words)."""
    outcomes = []
    for section in output.split("\nTASK [")[1:]:
        header, _, body = section.partition("\n")
        if header.split("]")[0].split(" : ")[-1] == name:
            outcomes += re.findall(r"^(ok|changed|skipping|fatal|failed): \[", body, re.MULTILINE)
    return outcomes
