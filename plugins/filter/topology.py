"""The topology filters the role uses on the controller (plugins/module_utils/topology.py has the rules).

- armkit.rabbitmq.rabbitmq_topology_expand: the variables as the full set of objects, checked
  (bindings name declared objects, names unique, quorum queues durable) before a host is touched;
- armkit.rabbitmq.rabbitmq_topology_owned_policies: the policies the kit derived (teardown);
- armkit.rabbitmq.rabbitmq_queue_names: the exchanges and queues derived from a worker queue
  (plugins/module_utils/queue_names.py), for the roles that point workers at them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.armkit.rabbitmq.plugins.module_utils.queue_names import derived
from ansible_collections.armkit.rabbitmq.plugins.module_utils.topology import (
    TopologyError,
    expand,
    owned_policies,
)


def _filter(rule: Callable[..., Any]) -> Callable[..., Any]:
    """The rule, its refusals reported as filter errors (the play stops with the message)."""

    @wraps(rule)
    def run(*args: Any) -> Any:
        try:
            return rule(*args)
        except TopologyError as error:
            raise AnsibleFilterError(str(error)) from None

    return run


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "rabbitmq_topology_expand": _filter(expand),
            "rabbitmq_topology_owned_policies": _filter(owned_policies),
            "rabbitmq_queue_names": derived,
        }
