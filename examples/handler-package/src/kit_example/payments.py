"""``payments``: capture one payment per event.

A plain function of one event: return on success, raise ``PermanentError`` when retrying
cannot help (the worker dead-letters the event with the reason), raise anything else for a
transient failure (the worker retries it through ``QUEUE.retry``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from event_worker.errors import PermanentError

if TYPE_CHECKING:
    from event_worker.handlers import Event

LOG = logging.getLogger(__name__)


def handle(event: Event) -> None:
    body = event.body
    amount = body["amount"]
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise PermanentError(f"payment {body['payment_id']}: amount must be a positive number")
    # A stand-in for the payment gateway: `unavailable_attempts` first attempts fail.
    unavailable = body.get("unavailable_attempts", 0)
    if isinstance(unavailable, int) and event.retry_count < unavailable:
        raise ConnectionError(f"payment gateway unavailable (attempt {event.retry_count + 1})")
    LOG.info("[Payments] Captured payment %s: %.2f", body["payment_id"], amount)


# Events without these fields are dead-lettered before the function is called.
handle.required_fields = ("payment_id", "amount")  # type: ignore[attr-defined]
