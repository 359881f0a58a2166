"""TLS to the broker: the server certificate is always verified; client certificates work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import StartWorker
from event_worker.broker import tls_context
from event_worker.config import load_broker_config
from support import Vhost, run_publish

pytestmark = pytest.mark.broker


def tls_overrides(vhost: Vhost, host: str, **tls: Any) -> dict[str, Any]:
    return {
        "broker": {
            "hosts": [f"{host}:{vhost.broker.amqps_port}"],
            "tls": {"ca_file": str(vhost.broker.certificates.ca), **tls},
        }
    }


def test_worker_consumes_over_tls_with_a_client_certificate(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    certs = vhost.broker.certificates
    config = vhost.worker_config(
        overrides=tls_overrides(
            vhost, "localhost", cert_file=str(certs.client_cert), key_file=str(certs.client_key)
        )
    )
    worker = start_worker(config)
    assert "Connecting to amqps://worker@localhost:" in worker.output()
    vhost.publish("events", "order.created", {"order_id": 1, "event": "order.created"})
    worker.wait_for_events(lambda e: e["outcome"] == "acked")


def test_server_certificate_from_another_ca_is_refused(
    vhost: Vhost, start_worker: StartWorker
) -> None:
    overrides = tls_overrides(vhost, "localhost")
    overrides["broker"]["tls"]["ca_file"] = str(vhost.broker.certificates.other_ca)
    worker = start_worker(vhost.worker_config(overrides=overrides), ready=False)
    worker.wait_for_line("certificate verify failed", count=2)
    assert "Worker started" not in worker.output()


def test_server_name_must_match_the_certificate(vhost: Vhost, start_worker: StartWorker) -> None:
    overrides = tls_overrides(vhost, "127.0.0.1", server_hostname="rabbit.example.com")
    worker = start_worker(vhost.worker_config(overrides=overrides), ready=False)
    worker.wait_for_line("certificate verify failed")
    assert "Hostname mismatch" in worker.output()
    assert "Worker started" not in worker.output()


def test_event_publish_over_tls_from_the_worker_config(vhost: Vhost) -> None:
    config = vhost.worker_config(overrides=tls_overrides(vhost, "localhost"))
    result = run_publish(
        "--config", str(config), "--exchange", "events", "--routing-key", "order.created",
        '{"order_id":2,"event":"order.created"}',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert vhost.ready_count("order.events") == 1


def test_tls_context_always_verifies(vhost: Vhost, tmp_path: Path) -> None:
    config = vhost.worker_config(overrides=tls_overrides(vhost, "localhost"))
    context = tls_context(load_broker_config(config))
    assert context is not None
    assert context.check_hostname
    assert context.verify_mode.name == "CERT_REQUIRED"
