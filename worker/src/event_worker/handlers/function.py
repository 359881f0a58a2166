"""A plain function used as a handler (no options).

Attributes set on the function configure it: ``required_fields`` (a tuple of body fields), and
``batch = True`` for a function of a list of events that returns one result per event (``None``
or the exception that event failed with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from event_worker.handlers.base import BatchHandler, Event, Handler, HandlerOptions
from event_worker.tomltable import Table


class FunctionHandler:
    """Calls ``function(event)``."""

    def __init__(self, function: Callable[[Event], object]) -> None:
        self._function = function
        self.required_fields: tuple[str, ...] = tuple(getattr(function, "required_fields", ()))

    def handle(self, event: Event) -> None:
        self._function(event)


class FunctionBatchHandler:
    """Calls ``function(events)`` and returns its results."""

    def __init__(self, function: Callable[[Sequence[Event]], Any]) -> None:
        self._function = function
        self.required_fields: tuple[str, ...] = tuple(getattr(function, "required_fields", ()))

    def handle_batch(self, events: Sequence[Event]) -> Sequence[BaseException | None]:
        results: Sequence[BaseException | None] = self._function(events)
        return results


@dataclass(frozen=True, slots=True)
class FunctionOptions:
    function: Callable[..., Any]

    def build(self) -> Handler | BatchHandler:
        if getattr(self.function, "batch", False) is True:
            return FunctionBatchHandler(self.function)
        return FunctionHandler(self.function)


def function_options_parser(function: Callable[..., object]) -> Callable[[Table], HandlerOptions]:
    """A parser that accepts no options and builds a handler calling ``function``."""

    def parse_options(table: Table) -> FunctionOptions:
        table.allow()
        table.finish()
        return FunctionOptions(function)

    return parse_options
