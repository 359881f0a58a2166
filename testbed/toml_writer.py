"""A worker configuration written as TOML, for the worker tests and the benchmark.

Enough TOML for the worker's configuration: nested tables of booleans, numbers, strings and
lists of them (the standard library reads TOML but does not write it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r} as TOML")


def render_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Nested dicts as TOML: the scalars of `data`, then each nested dict as a [table]."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, table in tables:
        name = f"{prefix}.{key}" if prefix else key
        out += f"\n[{name}]\n" + render_toml(table, name)
    return out
