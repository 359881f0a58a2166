"""Filters of the gcp_vm role.

gcp_vm_problems checks the role's variables beyond their types and returns every problem
at once, each naming its variable; it runs on the controller, before any call to Google.
gcp_vm_source_ranges normalises gcp_vm_source_ranges. Role argument validation checks
types but does not convert values, so a list may arrive as a comma-separated string
(`-e gcp_vm_source_ranges=a,b`).

gcp_vm_external_ip reads the external IP from a Compute Engine instance resource.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

PROJECT = re.compile(r"^([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
ZONE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
RFC1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
# Machine series that take Hyperdisk only (no pd-* disk types).
HYPERDISK_ONLY = re.compile(r"^(c4|c4a|c4d|n4|n4a|n4d)-")
MIN_DISK_GB = 10


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, dict) or not hasattr(value, "__iter__"):
        return [str(value)]
    return [str(part).strip() for part in value]


def _is_file(path: Any) -> bool:
    return bool(path) and os.path.isfile(os.path.expanduser(str(path)))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def source_range_problems(value: Any, allow_any: bool = False) -> list[str]:
    name = "gcp_vm_source_ranges"
    items = _items(value)
    if not items or items == [""]:
        return [f"{name} is empty: give your own address, e.g. 203.0.113.7/32."]
    problems = []
    for item in items:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                problems.append(f'{name}: "{item}" is not an IPv4 or IPv6 address or CIDR range.')
            else:
                problems.append(f'{name}: "{item}" has host bits set; did you mean {loose}?')
            continue
        if network.prefixlen == 0 and not allow_any:
            problems.append(
                f"{name}: {item} lets the whole Internet reach the management UI. Give your own address "
                "(e.g. 203.0.113.7/32), or set gcp_vm_source_ranges_allow_any=true if you really mean it."
            )
    return problems


def _common_problems(v: dict[str, Any]) -> list[str]:
    problems = []
    if not PROJECT.match(str(v["gcp_vm_project"])):
        problems.append(
            "gcp_vm_project must be a Google Cloud project ID (6-30 lower-case letters, digits or hyphens, "
            f'starting with a letter), not "{v["gcp_vm_project"]}".'
        )
    if not ZONE.match(str(v["gcp_vm_zone"])):
        problems.append(f'gcp_vm_zone must be a zone such as us-central1-a, not "{v["gcp_vm_zone"]}".')
    for name in ("gcp_vm_name", "gcp_vm_firewall_name", "gcp_vm_ssh_firewall_name"):
        if not RFC1035.match(str(v[name])):
            problems.append(
                f"{name} must be 1-63 lower-case letters, digits or hyphens, starting with a letter "
                f'and not ending with a hyphen, not "{v[name]}".'
            )
    if v["gcp_vm_auth_kind"] == "serviceaccount" and not _is_file(v["gcp_vm_service_account_file"]):
        path = v["gcp_vm_service_account_file"]
        problems.append(
            "gcp_vm_auth_kind=serviceaccount needs gcp_vm_service_account_file, the path of the service "
            "JSON key of the service account (" + (f"no such file: {path}" if path else "it is unset") + ")."
        )
    if v["ansible_check_mode"] and not v["gcp_vm_render_only"]:
        problems.append(
            "The google.cloud modules do not support check mode, so --check cannot tell what would change. "
            "Run with -e gcp_vm_render_only=true to write the requests to files instead (calls nothing)."
        )
    return problems


def _provision_problems(v: dict[str, Any]) -> list[str]:
    problems = source_range_problems(v["gcp_vm_source_ranges"], v["gcp_vm_source_ranges_allow_any"])
    machine_type, disk_type = str(v["gcp_vm_machine_type"]), str(v["gcp_vm_boot_disk_type"])
    if not MACHINE_TYPE.match(machine_type):
        problems.append(
            "gcp_vm_machine_type must be a machine type name such as c4a-standard-4 (lower case, "
            f'hyphen-separated), not "{machine_type}".'
        )
    elif HYPERDISK_ONLY.match(machine_type) and not disk_type.startswith("hyperdisk-"):
        problems.append(
            f'gcp_vm_boot_disk_type: {machine_type} takes Hyperdisk only (e.g. hyperdisk-balanced), not "{disk_type}".'
        )
    size = _int(v["gcp_vm_boot_disk_size_gb"])
    if size is None or size < MIN_DISK_GB:
        problems.append(
            f"gcp_vm_boot_disk_size_gb must be at least {MIN_DISK_GB} (GB), not {v['gcp_vm_boot_disk_size_gb']}."
        )
    port = _int(v["gcp_vm_management_port"])
    if port is None or not 1 <= port <= 65535:
        problems.append(f"gcp_vm_management_port must be a TCP port (1-65535), not {v['gcp_vm_management_port']}.")
    for tag in _items(v["gcp_vm_extra_tags"]):
        if not RFC1035.match(tag):
            problems.append(
                f'gcp_vm_extra_tags: "{tag}" is not a network tag (1-63 lower-case letters, digits or hyphens).'
            )
    key = v["gcp_vm_ssh_public_key_file"]
    if key and not _is_file(key):
        problems.append(
            f'gcp_vm_ssh_public_key_file: no such file "{key}". Give the public key {v["gcp_vm_ssh_user"]} '
            'logs in with, or "" to add none (OS Login or project-wide keys).'
        )
    return problems


def gcp_vm_problems(variables: dict[str, Any], entry: str = "main") -> list[str]:
    """Every problem with the variables of entry point `entry` (main or destroy); [] when all is well."""
    problems = _common_problems(variables)
    if entry == "main":
        problems += _provision_problems(variables)
    return problems


def gcp_vm_source_ranges(value: Any) -> list[str]:
    """The ranges as CIDR strings (a bare address becomes /32 or /128), duplicates dropped."""
    ranges: list[str] = []
    for item in _items(value):
        network = str(ipaddress.ip_network(item, strict=True))
        if network not in ranges:
            ranges.append(network)
    return ranges


def gcp_vm_external_ip(instance: Any) -> str:
    """The first external (NAT) address of an instance resource as the API returns it; "" if none yet."""
    if not isinstance(instance, dict):
        return ""
    for interface in instance.get("networkInterfaces") or []:
        for access in interface.get("accessConfigs") or []:
            if access.get("natIP"):
                return str(access["natIP"])
    return ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "gcp_vm_problems": gcp_vm_problems,
            "gcp_vm_source_ranges": gcp_vm_source_ranges,
            "gcp_vm_external_ip": gcp_vm_external_ip,
        }
