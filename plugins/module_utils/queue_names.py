"""The names the kit derives for a worker queue: the one home of the convention.

A worker queue Q dead-letters to the fanout exchange Q.dlx, bound to the queue Q.dlq; a message
to retry goes to the fanout exchange Q.retry, bound to the queue of the same name, which sends
it back to Q after the retry delay. The topology role declares them, the event_worker role
points each worker and its user's permissions at them, the benchmark and the worker tests
declare the same.
"""

from __future__ import annotations


def derived(queue: str) -> dict[str, str]:
    """The exchanges and queues derived from worker queue `queue`, by role."""
    return {
        "dead_letter_exchange": f"{queue}.dlx",
        "dead_letter_queue": f"{queue}.dlq",
        "retry_exchange": f"{queue}.retry",
        "retry_queue": f"{queue}.retry",
    }
