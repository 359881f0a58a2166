"""Turn the event_worker_instances variable into the systemd units to run.

Each instance becomes `processes` units: event-worker@NAME, event-worker@NAME-2, ...
Each unit gets its own configuration file and metrics port.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

NAME = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
MAX_PROCESSES = 10


def event_worker_units(instances: list[dict[str, Any]], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    units: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, instance in enumerate(instances):
        name = instance["name"]
        if not NAME.match(name):
            raise AnsibleFilterError(
                f"event_worker_instances: name {name!r} must be lower-case letters, digits, '_' or '.' "
                "(it names the systemd unit and the RabbitMQ user)"
            )
        if name in seen:
            raise AnsibleFilterError(f"event_worker_instances: name {name!r} is used twice")
        seen.add(name)
        processes = instance.get("processes") or defaults["processes"]
        if not 1 <= processes <= MAX_PROCESSES:
            raise AnsibleFilterError(
                f"event_worker_instances: {name!r} asks for {processes} processes; use 1 to {MAX_PROCESSES}"
            )
        base_port = defaults["metrics_port_base"]
        first_port = instance.get("metrics_port") or (base_port + 10 * index if base_port else 0)
        for process in range(1, processes + 1):
            units.append(
                {
                    "unit": name if process == 1 else f"{name}-{process}",
                    "instance": name,
                    "process": process,
                    "queue": instance["queue"],
                    "handler": instance["handler"],
                    "concurrency": instance.get("concurrency") or defaults["concurrency"],
                    "retry_limit": instance.get("retry_limit", defaults["retry_limit"]),
                    "options": dict(instance.get("options") or {}),
                    "batch": {
                        key: instance[key] for key in ("batch_size", "batch_max_wait") if instance.get(key) is not None
                    },
                    "metrics_port": first_port + process - 1 if first_port else 0,
                }
            )
    return units


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"event_worker_units": event_worker_units}
