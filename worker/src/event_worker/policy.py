"""Retry and dead-letter policy: what to do with a handled delivery, and the headers to send.

Pure functions, no AMQP.  The retry count travels in the message (``x-retry-count``), so it
survives redelivery to another worker process; the original routing key and exchange travel in
``x-original-routing-key`` / ``x-original-exchange`` so retries keep them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RETRY_COUNT = "x-retry-count"
LAST_ERROR = "x-last-error"
DEAD_LETTER_REASON = "x-dead-letter-reason"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
ORIGINAL_EXCHANGE = "x-original-exchange"
ORIGINAL_QUEUE = "x-original-queue"
REPUBLISH_ID = "x-republish-id"

MAX_HEADER_TEXT = 1000


# -- what the pool thread reports ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Succeeded:
    """The handler returned."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """The body is poison; the handler was not called."""

    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The handler raised."""

    error_type: str
    message: str
    permanent: bool

    @property
    def text(self) -> str:
        return f"{self.error_type}: {self.message}" if self.message else self.error_type


Outcome = Succeeded | Rejected | Failed


# -- what the I/O thread does ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    retry_count: int
    last_error: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    category: str
    """Low-cardinality label: oversize, invalid_utf8, ..., handler_error, permanent_error."""
    reason: str
    """The x-dead-letter-reason header, e.g. "invalid_json: Expecting value: ..."."""
    retry_count: int | None = None


Decision = Ack | Retry | DeadLetter


def clip(text: str, limit: int = MAX_HEADER_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decide(outcome: Outcome, previous_retries: int, retry_limit: int) -> Decision:
    if isinstance(outcome, Succeeded):
        return Ack()
    if isinstance(outcome, Rejected):
        return DeadLetter(outcome.kind, clip(outcome.reason))
    if outcome.permanent:
        return DeadLetter(
            "permanent_error", clip(f"permanent_error: {outcome.text}"), previous_retries
        )
    if previous_retries + 1 > retry_limit:
        return DeadLetter("handler_error", clip(f"handler_error: {outcome.text}"), previous_retries)
    return Retry(previous_retries + 1, clip(outcome.text))


# -- reading and writing headers -------------------------------------------------------------


def read_retry_count(headers: Mapping[str, object] | None) -> int:
    """The number of retries already done; malformed or missing counts read as 0."""
    value = (headers or {}).get(RETRY_COUNT)
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    return 0


def _header_text(headers: Mapping[str, object] | None, name: str) -> str | None:
    value = (headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def original_routing_key(headers: Mapping[str, object] | None, routing_key: str) -> str:
    found = _header_text(headers, ORIGINAL_ROUTING_KEY)
    return found if found is not None else routing_key


def original_exchange(headers: Mapping[str, object] | None, exchange: str) -> str:
    found = _header_text(headers, ORIGINAL_EXCHANGE)
    return found if found is not None else exchange


def _base_headers(
    headers: Mapping[str, object] | None, routing_key: str, exchange: str, republish_id: str
) -> dict[str, object]:
    result = dict(headers or {})
    result[ORIGINAL_ROUTING_KEY] = original_routing_key(headers, routing_key)
    result[ORIGINAL_EXCHANGE] = original_exchange(headers, exchange)
    result[REPUBLISH_ID] = republish_id
    return result


def retry_headers(
    headers: Mapping[str, object] | None,
    *,
    routing_key: str,
    exchange: str,
    decision: Retry,
    republish_id: str,
) -> dict[str, object]:
    result = _base_headers(headers, routing_key, exchange, republish_id)
    result[RETRY_COUNT] = decision.retry_count
    result[LAST_ERROR] = decision.last_error
    return result


def dead_letter_headers(
    headers: Mapping[str, object] | None,
    *,
    routing_key: str,
    exchange: str,
    queue: str,
    decision: DeadLetter,
    republish_id: str,
) -> dict[str, object]:
    result = _base_headers(headers, routing_key, exchange, republish_id)
    result[ORIGINAL_QUEUE] = queue
    result[DEAD_LETTER_REASON] = decision.reason
    if decision.retry_count is not None:
        result[RETRY_COUNT] = decision.retry_count
    return result
