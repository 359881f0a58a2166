"""Keep each role README's variable table in step with its meta/argument_specs.yml.

    python tools/role_docs.py          rewrite the tables (between the markers)
    python tools/role_docs.py --check  exit 1 if any README is out of date

The table sits between "<!-- BEGIN VARIABLES -->" and "<!-- END VARIABLES -->".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN VARIABLES -->", "<!-- END VARIABLES -->"


def _text(description: str | list[str]) -> str:
    text = " ".join(description) if isinstance(description, list) else description
    return re.sub(r"C\(([^)]*)\)", r"`\1`", text).replace("|", "\\|")


def _default(option: dict[str, Any], top_level: bool = True) -> str:
    if option.get("required"):
        return "**required**"
    if "default" not in option:
        return "see `defaults/main.yml`" if top_level else ""
    return f"`{option['default']}`" if option["default"] != "" else '`""`'


def _type(option: dict[str, Any]) -> str:
    kind = option["type"] + (f" of {option['elements']}" if "elements" in option else "")
    if "choices" in option:
        kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
    return kind


def table(spec_file: Path) -> str:
    specs = yaml.safe_load(spec_file.read_text())["argument_specs"]
    # The `validate` entry point takes the same variables as `main` (a YAML alias).
    specs = {entry: body for entry, body in specs.items() if entry == "main" or body is not specs.get("main")}
    lines: list[str] = []
    for entry, body in specs.items():
        if len(specs) > 1:
            lines += ["", f"Entry point `{entry}`: {_text(body['short_description'])}", ""]
        lines += ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
        for name, option in body["options"].items():
            if len(specs) > 1 and entry != "main" and name in specs["main"]["options"]:
                continue
            lines.append(f"| `{name}` | {_type(option)} | {_default(option)} | {_text(option['description'])} |")
            for sub, sub_option in (option.get("options") or {}).items():
                lines.append(
                    f"| &nbsp;&nbsp;`.{sub}` | {_type(sub_option)} | {_default(sub_option, top_level=False)} "
                    f"| {_text(sub_option['description'])} |"
                )
    return "\n".join(lines).strip("\n")


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        readme = spec_file.parents[1] / "README.md"
        if not readme.exists() or BEGIN not in readme.read_text():
            stale.append(readme.relative_to(ROOT))
            continue
        text = readme.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        wanted = text[:start] + "\n" + table(spec_file) + "\n" + text[end:]
        if wanted != text:
            stale.append(readme.relative_to(ROOT))
            if not check:
                readme.write_text(wanted)
    if stale and (check or any(not (ROOT / path).exists() for path in stale)):
        print(f"out of date or missing the {BEGIN} markers:", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
