"""``whatsapp`` (use case 2): notifications routed through the ``notifications`` direct exchange.

The handler logs the tutorial's lines and hands the message to a :class:`Sender`:

* ``log`` (default) only simulates ``work_seconds`` of work, like the tutorial;
* ``http`` posts to the WhatsApp Cloud API (``POST {api_url}`` with a bearer token read from
  ``token_file``).  4xx answers other than 429 (and redirects, which are never followed) are
  permanent (dead-lettered at once); 429, 5xx and network errors are retried.  The token
  never appears in logs or exception messages.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from event_worker.errors import PermanentError
from event_worker.handlers.base import Event
from event_worker.tomltable import Table

LOG = logging.getLogger(__name__)

MAX_ERROR_BODY_CHARS = 300
MAX_RESPONSE_BYTES = 64 * 1024


class SenderError(Exception):
    """A retryable delivery failure (network error, HTTP 429 or 5xx)."""


class Sender(Protocol):
    def send(self, phone: str, message: str) -> None:
        """Deliver one text message; raise PermanentError or another exception on failure."""
        ...


class LogSender:
    """Simulates delivery: waits ``work_seconds``, as the tutorial's worker does."""

    def __init__(self, work_seconds: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self._work_seconds = work_seconds
        self._sleep = sleep

    def send(self, phone: str, message: str) -> None:
        del phone, message
        self._sleep(self._work_seconds)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: they would carry the bearer token to another URL."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        del args, kwargs


class HttpSender:
    """Sends text messages through the WhatsApp Cloud API."""

    def __init__(self, api_url: str, token: str, timeout: float) -> None:
        self._api_url = api_url
        self._token = token
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        return f"HttpSender(api_url={self._api_url!r}, timeout={self._timeout})"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def send(self, phone: str, message: str) -> None:
        payload = {
            "messaging_product": "whatsapp",
            "to": phone,
            "type": "text",
            "text": {"body": message},
        }
        request = urllib.request.Request(  # noqa: S310 - the scheme is validated at config load
            self._api_url,
            data=json.dumps(payload).encode("utf-8"),
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as exc:
            status = exc.code
            detail = self._scrub(_error_body(exc))
            text = f"WhatsApp API answered HTTP {status}: {detail}".rstrip(": ")
            if status < 500 and status != 429:
                raise PermanentError(text) from None
            raise SenderError(text) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise SenderError(self._scrub(f"WhatsApp API request failed: {reason}")) from None


def _error_body(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(MAX_ERROR_BODY_CHARS + 1)
    except OSError:
        return ""
    text = raw.decode("utf-8", errors="replace").replace("\n", " ").strip()
    if len(text) > MAX_ERROR_BODY_CHARS:
        text = text[:MAX_ERROR_BODY_CHARS] + "..."
    return text


class WhatsAppHandler:
    required_fields: tuple[str, ...] = ("phone", "message")

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def handle(self, event: Event) -> None:
        phone = event.body["phone"]
        message = event.body["message"]
        if not isinstance(phone, str) or not phone.strip():
            raise PermanentError("field 'phone' must be a non-empty string")
        if not isinstance(message, str):
            raise PermanentError("field 'message' must be a string")
        LOG.info("[Worker] Processing WhatsApp notification")
        LOG.info("[Worker] Recipient: %s", phone)
        LOG.info("[Worker] Message: %s", message)
        self._sender.send(phone, message)
        LOG.info("[Worker] WhatsApp notification sent successfully")


@dataclass(frozen=True, slots=True)
class WhatsAppOptions:
    sender: str = "log"
    work_seconds: float = 1.0
    api_url: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    def build(self) -> WhatsAppHandler:
        if self.sender == "http":
            if self.api_url is None or self.token is None:
                raise ValueError("http sender needs api_url and a token")
            return WhatsAppHandler(HttpSender(self.api_url, self.token, self.timeout))
        return WhatsAppHandler(LogSender(self.work_seconds))


def parse_options(table: Table) -> WhatsAppOptions:
    table.allow("sender", "work_seconds", "api_url", "token_file", "timeout")
    sender = table.choice("sender", ("log", "http"), "log")
    work_seconds = table.number("work_seconds", 1.0, minimum=0.0)
    if sender == "log":
        for key in ("api_url", "token_file", "timeout"):
            if key in table:
                raise table.error(key, 'is only valid with sender = "http"')
        table.finish()
        return WhatsAppOptions(sender="log", work_seconds=work_seconds)
    api_url = table.string("api_url")
    parsed = urllib.parse.urlsplit(api_url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise table.error("api_url", f"expected an http(s) URL, got {api_url!r}")
    token = table.secret_file("token_file", "bearer token")
    timeout = table.number("timeout", 10.0, positive=True)
    table.finish()
    return WhatsAppOptions(
        sender="http", work_seconds=work_seconds, api_url=api_url, token=token, timeout=timeout
    )
