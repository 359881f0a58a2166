"""A local stand-in for the WhatsApp Cloud API: http.server in a thread on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeWhatsApp:
    """Answers every POST with the status configured for its path (default 200)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.statuses: dict[str, int] = {}
        self.echo_auth = False
        """Echo the Authorization header in error bodies (to test token scrubbing)."""
        self._cond = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with api._cond:
                    api.requests.append(
                        RecordedRequest("POST", self.path, dict(self.headers.items()), body)
                    )
                    api._cond.notify_all()
                status = api.statuses.get(self.path, 200)
                payload: dict[str, object]
                if status < 400:
                    payload = {"messages": [{"id": "wamid.test"}]}
                else:
                    message = f"simulated {status}"
                    if api.echo_auth:
                        message += f" for {self.headers.get('Authorization')}"
                    payload = {"error": {"message": message, "code": status}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.path == path]

    def wait_for_requests(self, path: str, count: int, timeout: float) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([r for r in self.requests if r.path == path]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out waiting for {count} requests to {path}; "
                        f"got {len(self.requests_for_locked(path))}"
                    )
                self._cond.wait(remaining)
            return [r for r in self.requests if r.path == path]

    def requests_for_locked(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
