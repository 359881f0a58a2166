"""Every RabbitMQ CLI call and CLI-driven module in the roles names its node.

SUSE's package writes NODENAME=rabbit@localhost, while community.rabbitmq's
modules default to the node `rabbit` (rabbit@HOSTNAME): a call that leaves the
node out talks to a node that does not exist there.
"""

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
CLIS = re.compile(
    r"^(rabbitmqctl|rabbitmq-plugins|rabbitmq-queues|rabbitmq-diagnostics|rabbitmq-upgrade|rabbitmq-streams)\b"
)
# Modules that run the CLIs unless they are given a management API host.
CLI_MODULES = {
    "community.rabbitmq.rabbitmq_user",
    "community.rabbitmq.rabbitmq_upgrade",
    "community.rabbitmq.rabbitmq_feature_flag",
    "community.rabbitmq.rabbitmq_plugin",
}


def tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def all_tasks():
    for path in sorted(ROLES.glob("*/tasks/*.yml")) + sorted(ROLES.glob("*/handlers/*.yml")):
        for task in tasks(yaml.safe_load(path.read_text())):
            yield f"{path.relative_to(ROLES)}: {task.get('name')}", task


# The roles' own shorthands for a CLI (e.g. __rabbitmq_server_ctl), as written in vars/main.yml.
SHORTHANDS = {
    name: value
    for path in ROLES.glob("*/vars/main.yml")
    for name, value in (yaml.safe_load(path.read_text()) or {}).items()
    if isinstance(value, str) and CLIS.search(value)
}


def command_line(task):
    for module in ("ansible.builtin.command", "ansible.builtin.shell"):
        if module in task:
            args = task[module]
            line = args if isinstance(args, str) else args.get("cmd") or args["argv"]
            line = line if isinstance(line, str) else " ".join(line)
            for name, value in SHORTHANDS.items():
                line = line.replace("{{ " + name + " }}", value)
            return line
    return None


def names_the_node(task, line):
    """-n NODE on the command line, or RABBITMQ_NODENAME in its environment (for the CLI
    calls that read a password on standard input, which then take no other argument)."""
    in_environment = "RABBITMQ_NODENAME" in (task.get("environment") or {})
    return bool(re.search(r"(^| )-n ", line) or "'-n'" in line or in_environment)


CLI_TASKS = [(name, task, line) for name, task in all_tasks() if (line := command_line(task)) and CLIS.search(line)]
MODULE_TASKS = [(name, task) for name, task in all_tasks() if CLI_MODULES & task.keys()]


def test_the_roles_do_call_the_clis():
    assert len(CLI_TASKS) > 10


@pytest.mark.parametrize(("name", "task", "line"), CLI_TASKS, ids=[name for name, _, _ in CLI_TASKS])
def test_every_cli_call_names_the_node(name, task, line):
    assert names_the_node(task, line), f"{name}: {line}"


@pytest.mark.parametrize(("name", "task"), MODULE_TASKS, ids=[name for name, _ in MODULE_TASKS])
def test_every_cli_module_names_the_node_or_uses_the_api(name, task):
    (args,) = (task[module] for module in CLI_MODULES & task.keys())
    assert "node" in args or "login_host" in args, name
