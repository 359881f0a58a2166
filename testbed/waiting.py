"""The one ``wait_until`` of the kit's Python test code.

Used by the private RabbitMQ node (testbed/rabbitnode.py), the worker tests, the controller-side
tests, the benchmark and, re-exported by molecule/common/kit_testing.py, the molecule scenarios'
testinfra tests.  Standard library only: the molecule verifier imports it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.5,
    what: str = "condition",
    retry_on: tuple[type[Exception], ...] = (),
) -> T:
    """Poll ``predicate()`` until it returns a truthy value, and return that value.

    The predicate is called at once, then every ``interval`` seconds, and a last time at the
    deadline, ``timeout`` seconds after the first call began; the wait is bounded by ``timeout``
    plus the time of one call of the predicate.  If no call returned a truthy value, raises
    ``TimeoutError`` with a message that names ``what`` and the timeout.

    An exception the predicate raises ends the wait at once (``BrokerError`` when the private
    node's process has exited, a failing command on a test host), unless it is an instance of
    one of ``retry_on``: those count as "not yet", and the last one is named in the
    ``TimeoutError`` message and chained as its cause.
    """
    if timeout < 0:
        raise ValueError(f"timeout must be 0 or more, not {timeout}")
    if interval <= 0:
        raise ValueError(f"interval must be more than 0, not {interval}")
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except retry_on as error:
            last_error = error
        else:
            if value:
                return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            message = f"timed out after {timeout:g} s waiting for {what}"
            if last_error is not None:
                message += f" (the predicate last raised {type(last_error).__name__}: {last_error})"
            raise TimeoutError(message) from last_error
        time.sleep(min(interval, remaining))
