"""Publisher-confirm bookkeeping for one channel: what is in flight, and what a confirm settles.

RabbitMQ numbers a confirm-mode channel's publishes 1, 2, 3, ... and confirms them with
``basic.ack``/``basic.nack`` frames whose ``multiple`` flag settles every tag up to the one
given (https://www.rabbitmq.com/docs/confirms). The consumer's republishes and the publisher CLI
both track their messages here.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import pika.spec

T = TypeVar("T")


class InFlight(Generic[T]):
    """The unconfirmed publishes of one channel, by delivery tag."""

    def __init__(self) -> None:
        self._next_tag = 1
        self._items: dict[int, T] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> int:
        """Record the next publish on the channel; returns its delivery tag."""
        tag = self._next_tag
        self._next_tag += 1
        self._items[tag] = item
        return tag

    def get(self, tag: int) -> T:
        return self._items[tag]

    def settle(self, frame: Any) -> tuple[list[T], bool]:
        """The items a confirm frame settles, in publish order, and whether it was an ack."""
        method = frame.method
        if method.multiple:
            tags = sorted(tag for tag in self._items if tag <= method.delivery_tag)
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._items else []
        return [self._items.pop(tag) for tag in tags], isinstance(method, pika.spec.Basic.Ack)

    def reset(self) -> list[T]:
        """Everything still unconfirmed, in publish order; tags start again (a new channel)."""
        items = [self._items[tag] for tag in sorted(self._items)]
        self._items.clear()
        self._next_tag = 1
        return items
