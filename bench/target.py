"""The broker under test: AMQP for administration and filling, the management API for facts."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
from event_worker.publisher import ConfirmingPublisher, OutgoingMessage, PublishReport, Target

from plugins.module_utils.queue_names import derived
from testbed.waiting import wait_until

BODY_BYTES = 100
FILL_WINDOW = 500


def event_body(number: int, size: int = BODY_BYTES, **fields: object) -> bytes:
    """A JSON order event padded to exactly ``size`` bytes."""
    doc: dict[str, object] = {
        "order_id": number,
        "event": "order.created",
        "event_id": f"bench-{number}",
        **fields,
        "pad": "",
    }
    raw = json.dumps(doc, separators=(",", ":")).encode()
    if len(raw) > size:
        return raw
    doc["pad"] = "x" * (size - len(raw))
    return json.dumps(doc, separators=(",", ":")).encode()


class Broker:
    """One broker reached by an AMQP URL, with its management API (same credentials)."""

    def __init__(self, url: str, http_url: str | None = None) -> None:
        self.url = url
        self.parameters = pika.URLParameters(url)
        self.parameters.connection_attempts = 1
        # The admin connection sits idle while a consumer drains (the tutorial workload takes
        # minutes): without heartbeats the broker does not drop it for missing them.
        self.parameters.heartbeat = 0
        creds = self.parameters.credentials
        self.username: str = creds.username
        self.password: str = creds.password
        self.vhost: str = self.parameters.virtual_host
        host = self.parameters.host
        self.http_url = http_url or f"http://{host}:15672"
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._http_ok: bool | None = None

    # -- AMQP administration -----------------------------------------------------------------

    @property
    def channel(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            if self._connection is None or not self._connection.is_open:
                self._connection = pika.BlockingConnection(self.parameters)
            self._channel = self._connection.channel()
        return self._channel

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
        self._connection = None
        self._channel = None

    def declare_work_queue(self, queue: str) -> None:
        """QUEUE with its dead-letter and retry exchanges and queues, named as the topology role names them."""
        channel, names = self.channel, derived(queue)
        channel.exchange_declare(names["dead_letter_exchange"], "fanout", durable=True)
        channel.queue_declare(names["dead_letter_queue"], durable=True)
        channel.queue_bind(names["dead_letter_queue"], names["dead_letter_exchange"])
        channel.exchange_declare(names["retry_exchange"], "fanout", durable=True)
        channel.queue_declare(names["retry_queue"], durable=True)
        channel.queue_bind(names["retry_queue"], names["retry_exchange"])
        channel.queue_declare(queue, durable=True)
        channel.queue_purge(queue)

    def delete_work_queue(self, queue: str) -> None:
        channel, names = self.channel, derived(queue)
        for name in (queue, names["dead_letter_queue"], names["retry_queue"]):
            channel.queue_delete(name)
        for name in (names["dead_letter_exchange"], names["retry_exchange"]):
            channel.exchange_delete(name)

    def purge(self, queue: str) -> None:
        self.channel.queue_purge(queue)

    def amqp_counts(self, queue: str) -> tuple[int, int]:
        """(ready, consumers) from a passive queue.declare: cheap and exact."""
        try:
            method = self.channel.queue_declare(queue, passive=True).method
        except pika.exceptions.AMQPConnectionError:
            self.close()  # a dropped admin connection: one fresh try
            method = self.channel.queue_declare(queue, passive=True).method
        return int(method.message_count), int(method.consumer_count)

    # -- filling -----------------------------------------------------------------------------

    def publish(self, queue: str, messages: Iterator[OutgoingMessage], window: int = FILL_WINDOW) -> PublishReport:
        """Persistent, confirmed publishes via the kit's own publisher."""
        publisher = ConfirmingPublisher(
            [Target(self.parameters, "bench")], exchange="", routing_key=queue, window=window
        )
        report = publisher.run(messages)
        if not report.ok:
            raise RuntimeError(f"filling {queue} failed: {report}")
        return report

    def fill(self, queue: str, count: int, size: int = BODY_BYTES) -> None:
        """Purge ``queue`` and put ``count`` persistent JSON events of ``size`` bytes into it."""
        self.purge(queue)
        self.publish(queue, (OutgoingMessage(event_body(n, size), f"bench-{n}") for n in range(count)))
        wait_until(lambda: self.amqp_counts(queue)[0] == count, 30, interval=0.05, what=f"{count} messages in {queue}")

    # -- management API ----------------------------------------------------------------------

    def _http_get(self, path: str) -> Any:
        request = urllib.request.Request(self.http_url + path)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    @property
    def has_management(self) -> bool:
        if self._http_ok is None:
            try:
                self._http_get("/api/overview")
                self._http_ok = True
            except (OSError, urllib.error.URLError, ValueError):
                self._http_ok = False
        return self._http_ok

    def overview(self) -> dict[str, Any]:
        data: dict[str, Any] = self._http_get("/api/overview")
        return data
