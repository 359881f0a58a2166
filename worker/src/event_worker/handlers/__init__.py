"""Which handler a worker runs: a built-in name, a plug-in's registered name, or a reference.

``[handler] name`` in the worker configuration is one of

* a built-in handler: ``orders``, ``whatsapp``, ``noop``;
* a name a third-party package registers in the ``event_worker.handlers`` entry point group
  (``[project.entry-points."event_worker.handlers"] invoices = "my_pkg.invoices:handle"``);
* a ``package.module:attribute`` reference to the operator's own code.

What a name or reference points at is either a plain function of one :class:`Event` (no
options; with the attribute ``batch = True`` a function of a list of events returning one result
per event), or an object with ``parse_options(table) -> HandlerOptions`` (a module or a class,
as the built-in handlers are).  Every failure to find, import or validate it is a
:class:`~event_worker.errors.ConfigError` naming the key, so ``event-worker --check-config``
reports it before a unit starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Final

from event_worker.errors import ConfigError
from event_worker.handlers import noop, orders, whatsapp
from event_worker.handlers.base import BatchHandler, Event, Handler, HandlerOptions
from event_worker.handlers.function import function_options_parser
from event_worker.tomltable import Table

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "BatchHandler",
    "Event",
    "Handler",
    "HandlerOptions",
    "OptionsParser",
    "parse_handler_options",
    "resolve_handler",
]

OptionsParser = Callable[[Table], HandlerOptions]

ENTRY_POINT_GROUP: Final = "event_worker.handlers"

BUILTIN: Final[Mapping[str, OptionsParser]] = MappingProxyType(
    {
        "orders": orders.parse_options,
        "whatsapp": whatsapp.parse_options,
        "noop": noop.parse_options,
    }
)


def _registered() -> dict[str, str]:
    """Entry point name -> ``module:attribute`` of every installed plug-in."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}


def _import(reference: str) -> object:
    module_name, _, attribute_path = reference.partition(":")
    if not module_name or not attribute_path:
        raise ValueError(f"{reference!r} is not of the form 'package.module:attribute'")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:  # the operator's module may fail in any way while importing
        raise ValueError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attribute_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(
                f"module {module_name!r} has no attribute {attribute_path!r}"
            ) from None
    return target


def _as_parser(reference: str, target: object) -> OptionsParser:
    parse_options = getattr(target, "parse_options", None)
    if callable(parse_options):
        parser: OptionsParser = parse_options
        return parser
    if callable(target):
        return function_options_parser(target)
    raise ValueError(
        f"{reference!r} is a {type(target).__name__}: expected a function of one event "
        "or an object with parse_options(table)"
    )


def resolve_handler(name: str) -> OptionsParser:
    """The options parser of the handler ``name``; ValueError saying why it cannot be used."""
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" in name:
        return _as_parser(name, _import(name))
    registered = _registered()
    if name in registered:
        return _as_parser(name, _import(registered[name]))
    known = ", ".join(sorted(BUILTIN))
    plugins = ", ".join(sorted(registered)) or "none installed"
    raise ValueError(
        f"unknown handler {name!r}: built-in handlers are {known}; plug-ins ({ENTRY_POINT_GROUP} "
        f"entry points): {plugins}; or give a 'package.module:function' reference"
    )


def parse_handler_options(name: str, table: Table) -> HandlerOptions:
    """Find the handler ``name`` and validate its ``[handler.options]`` with its own parser."""
    try:
        parser = resolve_handler(name)
    except ValueError as exc:
        raise ConfigError(f"handler.name: {exc}") from None
    try:
        return parser(table)
    except ConfigError:
        raise
    except Exception as exc:  # a plug-in's own parser may raise anything
        raise ConfigError(f"handler.options: {name}: {type(exc).__name__}: {exc}") from exc
