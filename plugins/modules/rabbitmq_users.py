#!/usr/bin/python
"""Users with their tags, password and permissions on one vhost, in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rabbitmq_users
short_description: Ensure RabbitMQ users, their passwords, tags and permissions through the management API
description:
  - "For each of I(users), creates the user or updates what differs from the request: its tags,
    its password (checked against the broker's salted hash, so an unchanged password is no
    change), and its permissions on I(vhost)."
  - Users not listed are left alone. Supports check mode; never returns a password.
  - Talks HTTPS with I(ca_path), so no C(REQUESTS_CA_BUNDLE) is needed.
options:
  vhost: {description: The vhost of the permissions., type: str, default: /}
  users:
    description: The users to ensure.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: User name., type: str, required: true}
      password: {description: Its password (never logged)., type: str, required: true}
      tags: {description: Its tags (none gives an ordinary user)., type: list, elements: str, default: []}
      configure_priv: {description: Configure permission (a regular expression)., type: str, default: ^$}
      write_priv: {description: Write permission (a regular expression)., type: str, default: ^$}
      read_priv: {description: Read permission (a regular expression)., type: str, default: ^$}
extends_documentation_fragment: [armkit.rabbitmq.management_api]
author: RabbitMQ-on-Arm deployment kit developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A publisher that may only write to the exchange events
  armkit.rabbitmq.rabbitmq_users:
    users:
      - name: publisher
        password: "{{ publisher_password }}"
        write_priv: ^(events)$
    api_url: http://127.0.0.1:15672/api
    api_user: admin
    api_password: "{{ rabbitmq_server_admin_password }}"
"""

RETURN = r"""
users:
  description: Per user C(name) and what changed (C(created), C(tags), C(password), C(permissions)); no passwords.
  type: list
  elements: dict
  returned: always
"""

import base64
import hashlib
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.armkit.rabbitmq.plugins.module_utils.management_api import OPTIONS, Api, path

# RabbitMQ's password hashes: base64 of a 4-byte salt and the digest of salt + password
# (https://www.rabbitmq.com/docs/passwords#computing-password-hash).
HASHES = {"rabbit_password_hashing_sha256": hashlib.sha256, "rabbit_password_hashing_sha512": hashlib.sha512}
PRIVILEGES = ("configure", "write", "read")


def same_password(live: dict[str, Any], password: str) -> bool:
    """Whether password is the one the broker's salted hash was made from."""
    digest = HASHES.get(live.get("hashing_algorithm", ""))
    try:
        stored = base64.b64decode(live.get("password_hash") or "")
    except ValueError:
        return False
    if digest is None or len(stored) < 5:
        return False
    salt = stored[:4]
    return salt + digest(salt + password.encode()).digest() == stored


def live_tags(live: dict[str, Any]) -> list[str]:
    """Tags as a sorted list (RabbitMQ 3.x answers a comma-separated string, 4.x a list)."""
    tags = live.get("tags") or []
    if isinstance(tags, str):
        tags = [tag for tag in tags.split(",") if tag]
    return sorted(tags)


def ensure(api: Api, vhost: str, wanted: dict[str, Any], apply: bool) -> dict[str, Any]:
    """What differs for one user (and, unless checking, its fix)."""
    name = wanted["name"]
    tags = sorted(wanted["tags"])
    status, live = api.call("GET", f"users/{path(name)}")
    if status not in (200, 404):
        api.module.fail_json(msg=f"GET users/{name}: HTTP {status} {live}")
    found = status == 200 and isinstance(live, dict)
    changed = {
        "created": not found,
        "tags": found and live_tags(live) != tags,
        "password": found and not same_password(live, wanted["password"]),
    }
    if apply and any(changed.values()):
        body = {"password": wanted["password"], "tags": ",".join(tags)}
        api.expect("PUT", f"users/{path(name)}", (201, 204), body)
    permissions = {privilege: wanted[f"{privilege}_priv"] for privilege in PRIVILEGES}
    status, granted = api.call("GET", f"permissions/{path(vhost, name)}")
    current = {privilege: granted.get(privilege) for privilege in PRIVILEGES} if status == 200 and granted else None
    changed["permissions"] = current != permissions
    if apply and changed["permissions"]:
        api.expect("PUT", f"permissions/{path(vhost, name)}", (201, 204), permissions)
    return {"name": name, **changed}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vhost": {"type": "str", "default": "/"},
            "users": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "password": {"type": "str", "required": True, "no_log": True},
                    "tags": {"type": "list", "elements": "str", "default": []},
                    "configure_priv": {"type": "str", "default": "^$"},
                    "write_priv": {"type": "str", "default": "^$"},
                    "read_priv": {"type": "str", "default": "^$"},
                },
            },
            **OPTIONS,
        },
        supports_check_mode=True,
    )
    api = Api(module)
    results = [ensure(api, module.params["vhost"], user, not module.check_mode) for user in module.params["users"]]
    changed = [result for result in results if any(value is True for value in result.values())]
    module.exit_json(changed=bool(changed), users=changed)


if __name__ == "__main__":
    main()
