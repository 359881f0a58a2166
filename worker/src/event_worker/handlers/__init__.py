"""Handler registry: the business handlers the worker can run, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from event_worker.handlers import noop, orders, whatsapp
from event_worker.handlers.base import Event, Handler, HandlerOptions
from event_worker.tomltable import Table

__all__ = ["HANDLERS", "Event", "Handler", "HandlerOptions", "parse_handler_options"]

OptionsParser = Callable[[Table], HandlerOptions]

HANDLERS: Final[Mapping[str, OptionsParser]] = MappingProxyType(
    {
        "orders": orders.parse_options,
        "whatsapp": whatsapp.parse_options,
        "noop": noop.parse_options,
    }
)


def parse_handler_options(name: str, table: Table) -> HandlerOptions:
    """Validate ``[handler.options]`` for the handler called ``name``."""
    return HANDLERS[name](table)
