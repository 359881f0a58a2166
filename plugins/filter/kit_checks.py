"""Filters for playbooks/validate.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
TYPED = ("int", "float", "bool")


def _with_dependencies(roles: list[str]) -> list[str]:
    """The roles and, before each, the kit roles it depends on (meta/main.yml), once each."""
    ordered: list[str] = []
    for role in roles:
        meta = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())
        for dependency in meta.get("dependencies") or []:
            name = (dependency["role"] if isinstance(dependency, dict) else dependency).rsplit(".", 1)[-1]
            if name not in ordered:
                ordered.append(name)
        if role not in ordered:
            ordered.append(role)
    return ordered


def kit_typed_options(roles: list[str]) -> list[dict[str, Any]]:
    """The numeric and boolean variables of these roles and their dependencies (meta/argument_specs.yml)."""
    found = []
    for role in _with_dependencies(roles):
        specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        for name, option in specs["main"]["options"].items():
            if option["type"] in TYPED:
                found.append({"name": name, "type": option["type"], "role": role})
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"kit_typed_options": kit_typed_options}
