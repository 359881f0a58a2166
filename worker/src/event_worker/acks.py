"""Ack coalescing: decide which delivery tags to ack, and how, from the I/O thread.

Tags are tracked in delivery order.  The contiguous prefix of completed tags is acked with a
single ``multiple=True`` ack; completed tags behind a still-running one ("stragglers") are acked
one by one, so one slow handler never holds back the others.  Only completed tags are ever acked,
which keeps delivery at-least-once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AckPlan(Generic[T]):
    """What to send: one ack up to ``multiple_up_to`` (if any), then ``singles`` one by one."""

    multiple_up_to: int | None
    singles: tuple[int, ...]
    items: tuple[T, ...] = field(default=())
    """The records of every acked tag, in ack order."""

    @property
    def empty(self) -> bool:
        return self.multiple_up_to is None and not self.singles


class AckCoalescer(Generic[T]):
    """Not thread-safe: use it from the connection's I/O thread only."""

    def __init__(self) -> None:
        # Insertion-ordered: delivery tags grow monotonically on a channel.
        self._outstanding: dict[int, T | None] = {}

    def __len__(self) -> int:
        """Number of tags delivered and not yet acked (or forgotten)."""
        return len(self._outstanding)

    def track(self, tag: int) -> None:
        if tag in self._outstanding:
            raise ValueError(f"delivery tag {tag} is already tracked")
        if self._outstanding and tag < next(reversed(self._outstanding)):
            raise ValueError(f"delivery tag {tag} arrived out of order")
        self._outstanding[tag] = None

    def complete(self, tag: int, item: T) -> None:
        if tag not in self._outstanding:
            raise KeyError(f"delivery tag {tag} is not outstanding")
        if self._outstanding[tag] is not None:
            raise ValueError(f"delivery tag {tag} completed twice")
        self._outstanding[tag] = item

    def forget(self, tag: int) -> None:
        """Drop a tag settled some other way (for example nacked)."""
        self._outstanding.pop(tag)

    def take(self) -> AckPlan[T]:
        """Remove and return every completed tag, planned as few acks as possible."""
        items: list[T] = []
        prefix_end: int | None = None
        prefix_len = 0
        for tag, item in self._outstanding.items():
            if item is None:
                break
            prefix_end = tag
            prefix_len += 1
            items.append(item)
        for _ in range(prefix_len):
            del self._outstanding[next(iter(self._outstanding))]
        singles: list[int] = []
        for tag, item in list(self._outstanding.items()):
            if item is not None:
                singles.append(tag)
                items.append(item)
                del self._outstanding[tag]
        if prefix_len == 1 and prefix_end is not None:
            # A single tag needs no multiple flag; ack it exactly.
            return AckPlan(None, (prefix_end, *singles), tuple(items))
        return AckPlan(prefix_end, tuple(singles), tuple(items))
