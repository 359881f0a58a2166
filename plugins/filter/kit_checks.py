"""Filters for playbooks/validate.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
TYPED = ("int", "float", "bool")


def kit_typed_options(roles: list[str]) -> list[dict[str, Any]]:
    """The numeric and boolean variables of these roles, from their meta/argument_specs.yml."""
    found = []
    for role in roles:
        specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        for name, option in specs["main"]["options"].items():
            if option["type"] in TYPED:
                found.append({"name": name, "type": option["type"], "role": role})
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"kit_typed_options": kit_typed_options}
