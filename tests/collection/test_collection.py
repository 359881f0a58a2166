"""The repository as an Ansible collection, used from outside: built, installed into an empty
collections path, and called by fully qualified names from a project of its own (its own
directory, inventory and group names, no ansible.cfg of the kit), against a private RabbitMQ
node on loopback (testbed/rabbitnode.py). README, "Use from your own playbooks".

Not here: the broker and worker roles converging a host from the installed copy.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from testbed.rabbitnode import RabbitNode  # noqa: E402

BIN = Path(sys.executable).parent
COLLECTION = "armkit.rabbitmq"
# What only develops the kit: none of it belongs in the archive.
NOT_SHIPPED = ("tests/", "molecule/", "bench/", "build/", "testbed/", "tools/", ".venv/", "worker/tests/", ".lab/")
SHIPPED = (
    "meta/runtime.yml",
    "plugins/filter/topology.py",
    "plugins/module_utils/topology.py",
    "plugins/modules/rabbitmq_topology_apply.py",
    "playbooks/site.yml",
    "roles/rabbitmq_topology/tasks/main.yml",
    "roles/event_worker/tasks/main.yml",
    "worker/pyproject.toml",
    "worker/src/event_worker/consumer.py",
)

PLAY = """
- name: Declare our topology with the kit's role
  hosts: brokers
  gather_facts: true
  become: false
  roles:
    - role: armkit.rabbitmq.rabbitmq_topology
"""


def run(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the archive and install it into an empty collections path; yield where and how."""
    work = tmp_path_factory.mktemp("collection")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(work), "ANSIBLE_NOCOLOR": "1", "LANG": "C.UTF-8"}
    built = run("ansible-galaxy", "collection", "build", "--output-path", str(work), str(ROOT), cwd=work, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    [archive] = work.glob("armkit-rabbitmq-*.tar.gz")
    path = work / "collections"
    done = run("ansible-galaxy", "collection", "install", "--no-deps", "-p", str(path), str(archive), cwd=work, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    project = work / "project"
    project.mkdir()
    yield {"archive": archive, "project": project, "env": {**env, "ANSIBLE_COLLECTIONS_PATH": str(path)}}


def test_the_archive_holds_the_kit_and_nothing_of_its_development(installed: dict[str, Any]) -> None:
    with tarfile.open(installed["archive"]) as archive:
        names = archive.getnames()
    assert [n for n in names if n.startswith(NOT_SHIPPED) or "__pycache__" in n or "_cache" in n] == []
    assert [n for n in SHIPPED if n not in names] == []


def test_its_roles_converge_a_broker_from_another_project(installed: dict[str, Any], tmp_path: Path) -> None:
    node = RabbitNode(tmp_path / "rabbit", management=True, log_level="warning")
    node.start()
    try:
        project: Path = installed["project"]
        (project / "hosts.ini").write_text(
            f"[brokers]\nmq ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        )
        (project / "play.yml").write_text(PLAY)
        (project / "vars.json").write_text(
            json.dumps(
                {
                    "rabbitmq_topology_api_port": node.http_port,
                    "rabbitmq_topology_api_user": "guest",
                    "rabbitmq_topology_api_password": "guest",
                    "rabbitmq_topology_default_queue_type": "classic",
                    "rabbitmq_topology_exchanges": [{"name": "shop", "type": "topic"}],
                    "rabbitmq_topology_queues": [{"name": "shop.orders"}],
                    "rabbitmq_topology_bindings": [
                        {"source": "shop", "destination": "shop.orders", "routing_key": "#"}
                    ],
                    "rabbitmq_topology_publishers": [],
                }
            )
        )
        recaps = []
        for _ in range(2):
            result = run(
                "ansible-playbook", "-i", "hosts.ini", "play.yml", "-e", "@vars.json", cwd=project, env=installed["env"]
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
            recaps.append(next(line for line in result.stdout.splitlines() if line.startswith("mq ")))
        assert "changed=1" in recaps[0] and "changed=0" in recaps[1], recaps
        request = urllib.request.Request(
            f"{node.http_url}/api/queues/%2F/shop.orders",
            headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            queue = json.load(answer)
        assert queue["arguments"]["x-dead-letter-exchange"] == "shop.orders.dlx"
    finally:
        node.close()


def test_its_playbooks_run_by_name_and_check_variables_first(installed: dict[str, Any]) -> None:
    project: Path = installed["project"]
    # A host that does not exist: the variable check must stop the run before reaching it.
    (project / "nowhere.ini").write_text(
        "[rabbitmq]\nnowhere ansible_connection=community.docker.docker ansible_host=kit-no-such-container\n"
        "[workers]\nnowhere\n"
    )
    result = run("ansible-playbook", "-i", "nowhere.ini", f"{COLLECTION}.site", cwd=project, env=installed["env"])
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unreachable=1" not in out
    assert "missing required arguments: rabbitmq_server_admin_password" in out, out[-3000:]
