"""The users module (plugins/modules/rabbitmq_users.py) against a real node: the topology role's
publisher users and the event_worker role's worker users.

Created with their permissions; a second run changes nothing (the password is checked against
the broker's salted hash); a new password or permission is applied, and only then; check mode
reports without changing; no password reaches the output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pika
import pytest
from support import api, run_play

from testbed.rabbitnode import RabbitNode

VHOST = "users-test"
PLAY = """
- name: Ensure the users
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Users, tags, passwords and permissions in one run
      armkit.rabbitmq.rabbitmq_users:
        vhost: "{{ vhost }}"
        users: "{{ users }}"
        api_url: "{{ url }}"
        api_user: guest
        api_password: guest
      register: ensured

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ ensured | to_json }}"
        dest: "{{ playbook_dir }}/ensured.json"
        mode: "0600"
      check_mode: false
"""


def ensure(node: RabbitNode, tmp_path: Path, users: list[dict[str, Any]], *args: str) -> tuple[dict[str, Any], str]:
    (tmp_path / "play.yml").write_text(PLAY)
    variables = {"vhost": VHOST, "users": users, "url": f"{node.http_url}/api"}
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    output = run_play(tmp_path, *args)
    return json.loads((tmp_path / "ensured.json").read_text()), output


def can_connect(node: RabbitNode, user: str, password: str) -> bool:
    parameters = pika.ConnectionParameters(
        host="127.0.0.1", port=node.amqp_port, virtual_host=VHOST, credentials=pika.PlainCredentials(user, password)
    )
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.ProbableAuthenticationError:
        return False
    return True


def publisher(password: str, write: str = "^(events)$") -> dict[str, Any]:
    return {"name": "shop-publisher", "password": password, "write_priv": write}


@pytest.fixture
def vhost(node: RabbitNode) -> Any:
    api(node, "PUT", f"vhosts/{VHOST}", {})
    yield VHOST
    api(node, "DELETE", f"vhosts/{VHOST}")
    api(node, "DELETE", "users/shop-publisher")


def test_a_user_is_created_then_left_alone_then_updated_only_where_it_differs(
    node: RabbitNode, vhost: str, tmp_path: Path
) -> None:
    created, output = ensure(node, tmp_path, [publisher("first-secret")])
    assert created["changed"] is True
    assert created["users"] == [
        {"name": "shop-publisher", "created": True, "tags": False, "password": False, "permissions": True}
    ]
    assert api(node, "GET", f"permissions/{vhost}/shop-publisher") == {
        "user": "shop-publisher", "vhost": vhost, "configure": "^$", "write": "^(events)$", "read": "^$",
    }  # fmt: skip
    assert can_connect(node, "shop-publisher", "first-secret")
    assert "first-secret" not in output

    again, _ = ensure(node, tmp_path, [publisher("first-secret")])
    assert again["changed"] is False and again["users"] == []

    rotated, output = ensure(node, tmp_path, [publisher("second-secret")])
    assert rotated["users"] == [
        {"name": "shop-publisher", "created": False, "tags": False, "password": True, "permissions": False}
    ]
    assert can_connect(node, "shop-publisher", "second-secret")
    assert not can_connect(node, "shop-publisher", "first-secret")
    assert "second-secret" not in output


def test_check_mode_reports_the_difference_and_changes_nothing(node: RabbitNode, vhost: str, tmp_path: Path) -> None:
    ensure(node, tmp_path, [publisher("first-secret")])

    checked, _ = ensure(node, tmp_path, [publisher("other-secret", write="^(events|notifications)$")], "--check")

    assert checked["changed"] is True
    assert checked["users"] == [
        {"name": "shop-publisher", "created": False, "tags": False, "password": True, "permissions": True}
    ]
    assert api(node, "GET", f"permissions/{vhost}/shop-publisher")["write"] == "^(events)$"
    assert can_connect(node, "shop-publisher", "first-secret")
