"""Turn a message body into an event object, or say precisely why it is poison."""

from __future__ import annotations

import json
from collections.abc import Sequence


class InvalidEvent(Exception):
    """The body cannot be handled; ``kind`` is a short category, ``reason`` the full text."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}"


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def strict_json_loads(text: str) -> object:
    """json.loads, minus Python's extensions: NaN, Infinity and -Infinity are errors.

    Raises json.JSONDecodeError or ValueError (both ValueError).
    """
    return json.loads(text, parse_constant=_refuse_constant)


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "value"


def decode_event_body(
    body: bytes, max_body_bytes: int, required_fields: Sequence[str]
) -> dict[str, object]:
    """Decode a UTF-8 JSON object carrying every required field, or raise InvalidEvent."""
    if len(body) > max_body_bytes:
        raise InvalidEvent("oversize", f"body is {len(body)} bytes, the limit is {max_body_bytes}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("invalid_utf8", str(exc)) from None
    try:
        value: object = strict_json_loads(text)
    except ValueError as exc:
        raise InvalidEvent("invalid_json", str(exc)) from None
    except RecursionError:
        raise InvalidEvent("invalid_json", "nesting too deep") from None
    if not isinstance(value, dict):
        raise InvalidEvent(
            "not_an_object", f"expected a JSON object, got a JSON {_json_type_name(value)}"
        )
    missing = [name for name in required_fields if name not in value]
    if missing:
        raise InvalidEvent("missing_field", ", ".join(missing))
    return value


def event_id_of(body: dict[str, object], message_id: str | None) -> str | None:
    """The event's identity: ``event_id`` from the body, else the AMQP message_id."""
    candidate = body.get("event_id")
    if isinstance(candidate, str) and candidate:
        return candidate
    if isinstance(candidate, int) and not isinstance(candidate, bool):
        return str(candidate)
    return message_id or None
