"""The roles take their inventory group names from variables (today's names as defaults).

A playbook from another project may call its brokers `brokers` and its workers `apps`; a role
that reads `groups['rabbitmq']` then finds nothing, or the wrong hosts.
"""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("rabbitmq_server", "rabbitmq_topology", "event_worker", "rabbitmq_smoke")
LITERAL_GROUP = re.compile(r"""groups\[\s*['"]""")


def test_no_role_names_an_inventory_group():
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for role in ROLES
        for path in sorted((ROOT / "roles" / role).rglob("*.yml"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_GROUP.search(line)
    ]
    assert found == [], "a role names an inventory group instead of its group variable: " + ", ".join(found)


PLAY = """
- name: Resolve the roles' group-dependent defaults
  hosts: apps
  gather_facts: false
  become: false
  tasks:
    - name: Load the defaults as the roles would
      ansible.builtin.include_vars: "{{ item }}"
      loop:
        - ROOT/roles/rabbitmq_server/defaults/main.yml
        - ROOT/roles/event_worker/defaults/main.yml
    - name: Print them
      ansible.builtin.debug:
        msg: "{{ {'cluster': rabbitmq_server_cluster_hosts, 'api': event_worker_api_host} | to_json }}"
"""


def test_other_group_names_reach_the_roles(tmp_path):
    (tmp_path / "inventory.ini").write_text(
        "[brokers]\nb1 ansible_connection=local\nb2 ansible_connection=local\n\n[apps]\na1 ansible_connection=local\n"
    )
    (tmp_path / "play.yml").write_text(PLAY.replace("ROOT", str(ROOT)))
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "inventory.ini",
            "play.yml",
            "-e",
            "rabbitmq_server_group=brokers event_worker_broker_group=brokers",
            "-e",
            "ansible_python_interpreter=auto_silent",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"ANSIBLE_STDOUT_CALLBACK": "json", "PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    task = json.loads(result.stdout)["plays"][0]["tasks"][-1]
    assert json.loads(task["hosts"]["a1"]["msg"]) == {"cluster": ["b1", "b2"], "api": "b1"}
