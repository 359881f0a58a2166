"""The repository as an Ansible collection, used from outside: built, installed into an empty
collections path, and called by fully qualified names from a project of its own (its own
directory, inventory and group names, no ansible.cfg of the kit), against a private RabbitMQ
node on loopback (testbed/rabbitnode.py), and onto a systemd host: the broker, the topology and
a worker, with one event through the worker. The host is a container of the test bed
(testbed/systemd-host, image rabbitmq-kit/systemd:debian13), so `make test-collection` needs
`make testbed` first. README, "Use from your own playbooks".
"""

from __future__ import annotations

import base64
import json
import shutil
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
from testbed.waiting import wait_until  # noqa: E402

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


def run(*argv: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def files_under(path: Path) -> dict[str, int]:
    """Every file below path with its size: what an installed copy holds."""
    return {str(f.relative_to(path)): f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Build the archive and install it into an empty collections path; yield where and how."""
    work = tmp_path_factory.mktemp("collection")
    env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "ANSIBLE_NOCOLOR": "1", "LANG": "C.UTF-8"}
    built = run("ansible-galaxy", "collection", "build", "--output-path", str(work), str(ROOT), cwd=work, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    [archive] = work.glob("armkit-rabbitmq-*.tar.gz")
    path = work / "collections"
    done = run("ansible-galaxy", "collection", "install", "--no-deps", "-p", str(path), str(archive), cwd=work, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    project = work / "project"
    project.mkdir()
    yield {
        "archive": archive,
        "project": project,
        "collection": path / "ansible_collections" / "armkit" / "rabbitmq",
        "env": {**env, "ANSIBLE_COLLECTIONS_PATH": str(path)},
    }


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
                    "rabbitmq_api_port": node.http_port,
                    "rabbitmq_api_user": "guest",
                    "rabbitmq_api_password": "guest",
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


# The broker, the topology and a worker onto a systemd host, from the installed copy.

HOST = "kit-outside-in"
IMAGE = "rabbitmq-kit/systemd:debian13"
SECRETS = {
    "admin": "outside-admin-secret",
    "publisher": "outside-publisher-secret",
    "orders": "outside-orders-secret",
}

HOST_PLAY = """
- name: Our broker, from the kit's roles
  hosts: brokers
  become: true
  gather_facts: false
  roles:
    - role: armkit.rabbitmq.rabbitmq_server
    - role: armkit.rabbitmq.rabbitmq_topology

- name: Our consumers
  hosts: consumers
  become: true
  gather_facts: false
  roles:
    - role: armkit.rabbitmq.event_worker
      vars:
        event_worker_publisher_password: "{{ rabbitmq_topology_publisher_passwords.publisher }}"
"""

HOST_VARIABLES: dict[str, Any] = {
    "rabbitmq_server_group": "brokers",
    "rabbitmq_server_workers_group": "consumers",
    "event_worker_broker_group": "brokers",
    "rabbitmq_server_admin_password": SECRETS["admin"],
    # The management API connection, once for every role that uses it.
    "rabbitmq_api_password": "{{ rabbitmq_server_admin_password }}",
    "rabbitmq_topology_publisher_passwords": {"publisher": SECRETS["publisher"]},
    "rabbitmq_topology_queues": [{"name": "order.events"}],
    "rabbitmq_topology_bindings": [{"source": "events", "destination": "order.events", "routing_key": "order.*"}],
    "event_worker_instances": [{"name": "orders", "queue": "order.events", "handler": "orders"}],
    "event_worker_passwords": {"orders": SECRETS["orders"]},
}


def docker(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    if shutil.which("docker") is None or docker("image", "inspect", IMAGE).returncode != 0:
        pytest.fail(f"needs docker and {IMAGE}: run `make testbed` (testbed/prepare.sh debian13)")
    docker("rm", "-f", "-v", HOST)
    started = subprocess.run(
        [str(ROOT / "testbed/systemd-host"), HOST, IMAGE, "--hostname", "mq-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        wait_until(
            lambda: docker("exec", HOST, "systemctl", "is-system-running").stdout.strip() in ("running", "degraded"),
            120,
            what=f"systemd in {HOST} to finish booting",
        )
        yield HOST
    finally:
        docker("rm", "-f", "-v", HOST)


@pytest.fixture(scope="module")
def project(installed: dict[str, Any], host: str) -> Path:
    project: Path = installed["project"] / "systemd"
    project.mkdir()
    (project / "hosts.ini").write_text(
        f"[brokers]\n{host} ansible_connection=community.docker.docker\n\n[consumers]\n{host}\n"
    )
    (project / "play.yml").write_text(HOST_PLAY)
    return project


def converge(project: Path, env: dict[str, str], variables: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (project / "vars.json").write_text(json.dumps(variables))
    return run("ansible-playbook", "-i", "hosts.ini", "play.yml", "-e", "@vars.json", cwd=project, env=env, timeout=900)


def test_a_role_used_alone_checks_its_variables_before_touching_the_host(
    installed: dict[str, Any], project: Path, host: str
) -> None:
    without_password = {k: v for k, v in HOST_VARIABLES.items() if k != "rabbitmq_server_admin_password"}
    result = converge(project, installed["env"], without_password)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "missing required arguments: rabbitmq_server_admin_password" in out, out[-3000:]
    assert docker("exec", host, "test", "-e", "/usr/sbin/rabbitmq-server").returncode != 0, "the host was touched"


def test_its_roles_converge_a_host_whose_worker_processes_an_event(
    installed: dict[str, Any], project: Path, host: str
) -> None:
    collection: Path = installed["collection"]
    before = files_under(collection)
    result = converge(project, installed["env"], HOST_VARIABLES)
    out = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert all(secret not in out for secret in SECRETS.values())
    # Build output (the worker's wheelhouse) lands in the project (it has no ansible.cfg: beside its playbook),
    # and the installed collection is left exactly as it was installed.
    assert list((project / "build" / "wheelhouse").glob("event_worker-*.whl")), "no wheelhouse in the project"
    assert files_under(collection) == before
    since = docker("exec", host, "date", "+%s").stdout.strip()
    published = docker(
        "exec", host, "/opt/event-worker/venv/bin/event-publish", "--config", "/etc/event-worker/publish.toml",
        "--quiet", "--exchange", "events", "--routing-key", "order.created",
        '{"order_id": 123, "event": "order.created"}',
    )  # fmt: skip
    assert published.returncode == 0, published.stderr

    def journal() -> str:
        lines = docker(
            "exec", host, "journalctl", "--output", "cat", "--unit", "event-worker@orders", "--since", f"@{since}"
        )
        return lines.stdout if "[Worker] Event processed successfully" in lines.stdout else ""

    lines = wait_until(journal, 60, what="the worker's journal to show the event processed")
    assert "[Worker] Received event: {'order_id': 123, 'event': 'order.created'}" in lines
