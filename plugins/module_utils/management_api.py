"""The RabbitMQ management API as the kit's modules call it (on the broker host).

One home for the connection options every module takes (api_url, api_user, api_password,
ca_path) and for how an answer is read: HTTP errors are answers too, a refused connection fails
the module with the URL.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

OPTIONS: dict[str, dict[str, Any]] = {
    "api_url": {"type": "str", "required": True},
    "api_user": {"type": "str", "required": True},
    "api_password": {"type": "str", "required": True, "no_log": True},
    "ca_path": {"type": "path"},
}


def path(*parts: str) -> str:
    """An API path from names (vhosts, exchanges, queues), each percent-encoded ('/' too)."""
    return "/".join(quote(part, safe="") for part in parts)


class Api:
    """The management API, as the module's user."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.url = module.params["api_url"].rstrip("/")

    def call(self, method: str, where: str, body: Any = None, timeout: int = 30) -> tuple[int, Any]:
        """(status, decoded JSON body or None)."""
        params = self.module.params
        try:
            response = open_url(
                f"{self.url}/{where}",
                method=method,
                data=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json"},
                url_username=params["api_user"],
                url_password=params["api_password"],
                force_basic_auth=True,
                ca_path=params["ca_path"],
                timeout=timeout,
            )
            status, text = response.status, response.read()
        except HTTPError as error:
            status, text = error.code, error.read()
        except URLError as error:
            self.module.fail_json(msg=f"{method} {self.url}/{where}: {error.reason}")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, None

    def expect(self, method: str, where: str, ok: tuple[int, ...], body: Any = None, timeout: int = 30) -> Any:
        """The decoded answer; fails the module unless the status is one of ok."""
        status, answer = self.call(method, where, body, timeout)
        if status not in ok:
            self.module.fail_json(msg=f"{method} {self.url}/{where}: HTTP {status} {answer}")
        return answer
