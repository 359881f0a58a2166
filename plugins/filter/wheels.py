"""What the operator's handler wheels contain, read on the controller.

`event_worker_wheels` reads each wheel (a zip): its distribution name and version, its tags,
its sha256, the top-level modules it installs and the handler names it registers in the
`event_worker.handlers` entry point group. `event_worker_wrong_platform` names the wheels a host
cannot install (compiled for another architecture or Python). `event_worker_handler_package`
finds the wheel that provides one instance's handler, so only the units using a changed
package are restarted.
`event_worker_source_digest` fingerprints the worker's source tree, so the controller rebuilds
the worker's wheel only when its source changed.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import zipfile
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

ENTRY_POINT_GROUP = "event_worker.handlers"
# name-version(-build)?-python-abi-platform.whl (PEP 427)
WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$"
)


def _modules(archive: zipfile.ZipFile) -> list[str]:
    tops = set()
    for name in archive.namelist():
        first = name.split("/", 1)[0]
        if first.endswith((".dist-info", ".data")):
            continue
        tops.add(first[:-3] if first.endswith(".py") else first)
    return sorted(tops)


def _entry_points(archive: zipfile.ZipFile) -> list[str]:
    for name in archive.namelist():
        if name.count("/") == 1 and name.endswith(".dist-info/entry_points.txt"):
            parser = configparser.ConfigParser(delimiters=("=",))
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(archive.read(name).decode())
            if parser.has_section(ENTRY_POINT_GROUP):
                return sorted(parser.options(ENTRY_POINT_GROUP))
    return []


def event_worker_wheels(paths: list[str], skip_dir: str = "") -> list[dict[str, Any]]:
    """Facts of each wheel, leaving out those that are also in `skip_dir` (the worker's own)."""
    wheels = []
    for path in sorted(paths):
        if skip_dir and (Path(skip_dir) / Path(path).name).exists():
            continue
        match = WHEEL_NAME.match(Path(path).name)
        if match is None:
            raise AnsibleFilterError(f"event_worker_handler_packages: {path} is not a wheel file name")
        try:
            with zipfile.ZipFile(path) as archive:
                modules, names = _modules(archive), _entry_points(archive)
        except zipfile.BadZipFile as exc:
            raise AnsibleFilterError(f"event_worker_handler_packages: {path}: {exc}") from exc
        wheels.append(
            {
                "path": path,
                "file": Path(path).name,
                "name": match["name"],
                "version": match["version"],
                "python": match["python"],
                "abi": match["abi"],
                "platform": match["platform"],
                "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                "modules": modules,
                "handlers": names,
            }
        )
    return wheels


def event_worker_wrong_platform(wheels: list[dict[str, Any]], architecture: str, python: str) -> list[str]:
    """Wheels this host cannot run: `architecture` as uname -m, `python` as "3.11"."""
    cpython = "cp" + python.replace(".", "")
    wrong = []
    for wheel in wheels:
        platforms = wheel["platform"].split(".")
        if platforms != ["any"] and not any(p.endswith("_" + architecture) for p in platforms):
            wrong.append(f"{wheel['file']} is compiled for {wheel['platform']}, the host is {architecture}")
        elif wheel["abi"] not in ("none", "abi3") and cpython not in wheel["abi"].split("."):
            wrong.append(f"{wheel['file']} is compiled for {wheel['abi']}, the host runs Python {python}")
    return wrong


def event_worker_handler_package(handler: str, wheels: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The wheel that provides `handler` (an entry point name or module:attribute), or None.

    None for the worker's built-in handlers (orders, whatsapp, noop): the worker's own wheel is
    not among `wheels`. A package that also registers a built-in's name is named here (its
    change restarts those units too), though the worker keeps using its built-in.
    """
    if ":" in handler:
        top = handler.split(":", 1)[0].split(".", 1)[0]
        found = [w for w in wheels if top in w["modules"]]
    else:
        found = [w for w in wheels if handler in w["handlers"]]
    return found[0] if found else None


# Written by tools and builds, not part of the source.
NOT_SOURCE = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "build", "dist"}


def event_worker_source_digest(source_dir: str) -> str:
    """sha256 over the relative path and content of every source file under `source_dir`."""
    root = Path(source_dir)
    if not root.is_dir():
        raise AnsibleFilterError(f"event_worker_source_dir: {source_dir} is not a directory")
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(p in NOT_SOURCE or p.endswith(".egg-info") for p in relative.parts):
            continue
        digest.update(str(relative).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "event_worker_wheels": event_worker_wheels,
            "event_worker_wrong_platform": event_worker_wrong_platform,
            "event_worker_handler_package": event_worker_handler_package,
            "event_worker_source_digest": event_worker_source_digest,
        }
