"""The broker topology the worker relies on, declared here exactly as the Ansible topology role
declares it on real hosts (the worker itself declares nothing).

For a work queue Q:

* exchange ``Q.dlx`` (fanout, durable) bound to queue ``Q.dlq`` (durable);
* exchange ``Q.retry`` (fanout, durable) bound to queue ``Q.retry`` (durable), whose policy sets
  ``message-ttl`` (the retry delay), ``dead-letter-exchange`` = "" and
  ``dead-letter-routing-key`` = Q, so retried messages come back to Q after the delay;
* Q (durable) with a policy ``dead-letter-exchange`` = ``Q.dlx`` (the broker-side fallback for
  messages rejected without requeue).

Plus the tutorial's routing: topic exchange ``events`` -> ``order.events`` (``order.*``) and
direct exchange ``notifications`` -> ``whatsapp.notifications`` (``whatsapp``).

Policies, the vhost and permissions go in through ``rabbitmqctl import_definitions`` (one CLI
call per test); exchanges, queues and bindings are declared over AMQP as the admin (guest).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from queue_names import derived

from rabbit_broker import RabbitBroker

WORKER_USER = "worker"
WORKER_PASSWORD = "worker-secret-1"


@dataclass(frozen=True)
class WorkQueue:
    name: str
    retry_delay_ms: int = 200

    @property
    def dead_letter_exchange(self) -> str:
        return derived(self.name)["dead_letter_exchange"]

    @property
    def dead_letter_queue(self) -> str:
        return derived(self.name)["dead_letter_queue"]

    @property
    def retry_exchange(self) -> str:
        return derived(self.name)["retry_exchange"]

    @property
    def retry_queue(self) -> str:
        return derived(self.name)["retry_queue"]


@dataclass(frozen=True)
class Route:
    exchange: str
    exchange_type: str
    binding_key: str
    queue: str


ORDERS = WorkQueue("order.events")
WHATSAPP = WorkQueue("whatsapp.notifications")
TUTORIAL_QUEUES = (ORDERS, WHATSAPP)
TUTORIAL_ROUTES = (
    Route("events", "topic", "order.*", "order.events"),
    Route("notifications", "direct", "whatsapp", "whatsapp.notifications"),
)


def policies(vhost: str, queue: WorkQueue) -> list[dict[str, Any]]:
    return [
        {
            "vhost": vhost,
            "name": f"{queue.name}.dead-letter",
            "pattern": f"^{re.escape(queue.name)}$",
            "apply-to": "queues",
            "priority": 0,
            "definition": {"dead-letter-exchange": queue.dead_letter_exchange},
        },
        {
            "vhost": vhost,
            "name": f"{queue.name}.retry-delay",
            "pattern": f"^{re.escape(queue.retry_queue)}$",
            "apply-to": "queues",
            "priority": 0,
            "definition": {
                "message-ttl": queue.retry_delay_ms,
                "dead-letter-exchange": "",
                "dead-letter-routing-key": queue.name,
            },
        },
    ]


def import_definitions(broker: RabbitBroker, path: Path, definitions: dict[str, Any]) -> None:
    path.write_text(json.dumps(definitions, indent=2))
    broker.ctl("import_definitions", str(path))


def create_vhost(
    broker: RabbitBroker, vhost: str, queues: tuple[WorkQueue, ...], workdir: Path
) -> None:
    """The vhost, permissions (worker: no configure) and the queues' policies, in one call."""
    import_definitions(
        broker,
        workdir / f"definitions-{vhost}.json",
        {
            "vhosts": [{"name": vhost}],
            "permissions": [
                {"user": "guest", "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"},
                {
                    "user": WORKER_USER,
                    "vhost": vhost,
                    "configure": "^$",
                    "write": ".*",
                    "read": ".*",
                },
            ],
            "policies": [policy for queue in queues for policy in policies(vhost, queue)],
        },
    )


def add_policies(
    broker: RabbitBroker, vhost: str, queues: tuple[WorkQueue, ...], workdir: Path
) -> None:
    import_definitions(
        broker,
        workdir / f"policies-{vhost}-{queues[0].name}.json",
        {"policies": [policy for queue in queues for policy in policies(vhost, queue)]},
    )


def declare_work_queue(channel: Any, queue: WorkQueue) -> None:
    channel.exchange_declare(queue.dead_letter_exchange, "fanout", durable=True)
    channel.queue_declare(queue.dead_letter_queue, durable=True)
    channel.queue_bind(queue.dead_letter_queue, queue.dead_letter_exchange)
    channel.exchange_declare(queue.retry_exchange, "fanout", durable=True)
    channel.queue_declare(queue.retry_queue, durable=True)
    channel.queue_bind(queue.retry_queue, queue.retry_exchange)
    channel.queue_declare(queue.name, durable=True)


def declare_route(channel: Any, route: Route) -> None:
    channel.exchange_declare(route.exchange, route.exchange_type, durable=True)
    channel.queue_bind(route.queue, route.exchange, routing_key=route.binding_key)
