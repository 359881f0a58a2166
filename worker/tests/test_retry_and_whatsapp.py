"""Handler failures: retries through the retry queue, dead-lettering, the WhatsApp HTTP sender."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import StartWorker
from fake_whatsapp import FakeWhatsApp
from support import Vhost, WorkerProcess
from topology import WHATSAPP

pytestmark = pytest.mark.broker

TOKEN = "EAAG-test-token-5f1c9e7b-never-log-me"
NOTIFICATION = {"phone": "+911234567890", "message": "Hello from RabbitMQ"}


@pytest.fixture
def api() -> Iterator[FakeWhatsApp]:
    server = FakeWhatsApp()
    yield server
    server.close()


def http_config(vhost: Vhost, api: FakeWhatsApp, path: str, retry_limit: int = 3) -> Path:
    token_file = vhost.workdir / "whatsapp.token"
    token_file.write_text(TOKEN + "\n")
    return vhost.worker_config(
        queue=WHATSAPP,
        handler="whatsapp",
        options={
            "sender": "http",
            "api_url": api.url(path),
            "token_file": str(token_file),
            "timeout": 5.0,
        },
        overrides={"consumer": {"retry_limit": retry_limit}},
    )


def assert_token_absent(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)


def test_http_sender_posts_the_cloud_api_request_with_the_bearer_token(
    vhost: Vhost, start_worker: StartWorker, api: FakeWhatsApp
) -> None:
    path = "/v21.0/1234567890/messages"
    worker = start_worker(http_config(vhost, api, path))

    vhost.publish("notifications", "whatsapp", NOTIFICATION)
    worker.wait_for_events(lambda e: e["outcome"] == "acked")

    (request,) = api.requests_for(path)
    assert request.json() == {
        "messaging_product": "whatsapp",
        "to": "+911234567890",
        "type": "text",
        "text": {"body": "Hello from RabbitMQ"},
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert "[Worker] WhatsApp notification sent successfully" in worker.snapshot()
    assert_token_absent(worker.output())


def test_http_4xx_is_permanent_and_dead_lettered_at_once(
    vhost: Vhost, start_worker: StartWorker, api: FakeWhatsApp
) -> None:
    path = "/v21.0/1234567890/messages"
    api.statuses[path] = 400
    worker = start_worker(http_config(vhost, api, path))

    vhost.publish("notifications", "whatsapp", NOTIFICATION, message_id="n-400")
    vhost.publish(
        "notifications", "whatsapp", {"phone": 12345, "message": "x"}, message_id="n-bad-phone"
    )
    dead = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered", count=2)

    assert len(api.requests_for(path)) == 1, "a 4xx is not retried"
    by_id = {e["event_id"]: e for e in dead}
    assert by_id["n-400"]["reason"].startswith(
        "permanent_error: PermanentError: WhatsApp API answered HTTP 400"
    )
    assert by_id["n-bad-phone"]["reason"] == (
        "permanent_error: PermanentError: field 'phone' must be a non-empty string"
    )
    vhost.wait_for_messages(WHATSAPP.dead_letter_queue, 2, timeout=10)
    messages = vhost.drain(WHATSAPP.dead_letter_queue)
    headers = {m[1].message_id: m[1].headers for m in messages}
    assert headers["n-400"]["x-dead-letter-reason"] == by_id["n-400"]["reason"]
    assert headers["n-400"]["x-retry-count"] == 0
    assert not any(e["outcome"] == "retried" for e in worker.events())
    assert_token_absent(worker.output(), headers)


def test_handler_errors_are_retried_then_dead_lettered_and_the_count_survives_a_restart(
    vhost: Vhost, start_worker: StartWorker, api: FakeWhatsApp
) -> None:
    path = "/v21.0/1234567890/messages"
    api.statuses[path] = 503  # retryable
    config = http_config(vhost, api, path, retry_limit=3)
    first = start_worker(config)

    vhost.publish("notifications", "whatsapp", NOTIFICATION, message_id="n-503")
    api.wait_for_requests(path, 2, timeout=15)
    first.terminate()
    assert first.wait(timeout=20) == 0

    second = start_worker(config)
    (dead,) = second.wait_for_events(lambda e: e["outcome"] == "dead_lettered", timeout=20)

    # One first attempt plus retry_limit retries, split across two worker processes.
    assert len(api.requests_for(path)) == 4
    retried = [e for w in (first, second) for e in w.events() if e["outcome"] == "retried"]
    assert sorted(e["retry_count"] for e in retried) == [1, 2, 3]
    assert all(e["routing_key"] == "whatsapp" for e in [*retried, dead])
    assert all(
        e["reason"].startswith("SenderError: WhatsApp API answered HTTP 503") for e in retried
    )
    assert dead["reason"].startswith("handler_error: SenderError: WhatsApp API answered HTTP 503")
    assert dead["retry_count"] == 3

    vhost.wait_for_messages(WHATSAPP.dead_letter_queue, 1, timeout=10)
    ((_method, properties, body),) = vhost.drain(WHATSAPP.dead_letter_queue)
    headers: dict[str, Any] = properties.headers
    assert headers["x-retry-count"] == 3
    assert headers["x-dead-letter-reason"] == dead["reason"]
    assert headers["x-original-routing-key"] == "whatsapp"
    assert headers["x-original-exchange"] == "notifications"
    assert headers["x-original-queue"] == "whatsapp.notifications"
    assert headers["x-last-error"].startswith("SenderError: WhatsApp API answered HTTP 503")
    assert properties.message_id == "n-503"
    assert b'"+911234567890"' in body
    vhost.wait_until_settled("whatsapp.notifications")
    assert vhost.ready_count(WHATSAPP.retry_queue) == 0
    assert_token_absent(first.output(), second.output(), headers)


def test_retry_limit_zero_dead_letters_on_the_first_error(
    vhost: Vhost, start_worker: StartWorker, api: FakeWhatsApp
) -> None:
    path = "/v21.0/1/messages"
    api.statuses[path] = 500
    worker: WorkerProcess = start_worker(http_config(vhost, api, path, retry_limit=0))
    vhost.publish("notifications", "whatsapp", NOTIFICATION)
    (dead,) = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered")
    assert dead["retry_count"] == 0
    assert len(api.requests_for(path)) == 1
