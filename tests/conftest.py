"""Controller-side tests: playbooks and role logic, with no host to touch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The plugins import each other as the collection armkit.rabbitmq (collections/ links back here);
# the test bed's private RabbitMQ node is testbed.rabbitnode.
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT))

# A host that does not exist: if a play ever tried to reach it, the run would
# report it unreachable. Variable errors must stop every play before that.
NOWHERE_INVENTORY = """
[rabbitmq]
nowhere ansible_connection=community.docker.docker ansible_host=rabbitmq-kit-no-such-container
[workers]
nowhere
"""


@pytest.fixture(scope="session")
def nowhere_inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "nowhere.ini"
    path.write_text(NOWHERE_INVENTORY)
    return path


def run_playbook_once(inventory, playbook, *extra_args, env=None):
    """Run a playbook of the kit against inventory; return (exit code, combined output)."""
    if env is None:
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / playbook), *extra_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout


@pytest.fixture
def run_playbook(nowhere_inventory):
    """Run a playbook against the unreachable host; return (exit code, combined output)."""

    def run(playbook, *extra_args):
        return run_playbook_once(nowhere_inventory, playbook, *extra_args)

    return run


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    """One private RabbitMQ node with management (testbed/rabbitnode.py) for the broker tests."""
    from testbed.rabbitnode import RabbitNode

    broker = RabbitNode(tmp_path_factory.mktemp("rabbit"), management=True, log_level="warning")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
