"""Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS blog)."""

from __future__ import annotations

import random


class Backoff:
    """Delay before reconnect attempt n: uniform(0, min(max_delay, initial_delay * 2**n))."""

    def __init__(
        self, initial_delay: float, max_delay: float, rng: random.Random | None = None
    ) -> None:
        if initial_delay <= 0 or max_delay < initial_delay:
            raise ValueError("need 0 < initial_delay <= max_delay")
        self._initial = initial_delay
        self._max = max_delay
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def cap(self) -> float:
        """The upper bound of the next delay."""
        # Limit the exponent so 2**n cannot overflow a float after a very long outage.
        return min(self._max, self._initial * 2.0 ** min(self._attempt, 60))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.cap())
        self._attempt += 1
        return delay

    def reset(self) -> None:
        self._attempt = 0
