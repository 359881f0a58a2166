"""The payments handler, run through the worker's own decoding and retry policy, no broker."""

from __future__ import annotations

from event_worker.testing import run_handler

HANDLER = "kit_example.payments:handle"


def test_a_payment_is_captured_and_acked() -> None:
    result = run_handler(HANDLER, {"payment_id": "p-1", "amount": 12.5})
    assert result.action == "ack"


def test_an_unavailable_gateway_is_retried_then_succeeds() -> None:
    body = {"payment_id": "p-2", "amount": 3, "unavailable_attempts": 1}
    first = run_handler(HANDLER, body)
    assert first.action == "retry"
    assert first.reason == "ConnectionError: payment gateway unavailable (attempt 1)"
    assert run_handler(HANDLER, body, retry_count=1).action == "ack"


def test_a_negative_amount_is_dead_lettered_at_once() -> None:
    result = run_handler(HANDLER, {"payment_id": "p-3", "amount": -5})
    assert result.action == "dead-letter"
    assert result.reason == ("permanent_error: PermanentError: payment p-3: amount must be a positive number")


def test_an_event_without_an_amount_is_dead_lettered_unprocessed() -> None:
    result = run_handler(HANDLER, {"payment_id": "p-4"})
    assert result.action == "dead-letter"
    assert "amount" in result.reason
