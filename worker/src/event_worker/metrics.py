"""Prometheus metrics, in a dedicated registry (no global collector state)."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class WorkerMetrics:
    """Counters and gauges of one worker process, labelled with its queue and handler."""

    def __init__(self, queue: str, handler: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ("queue", "handler")
        self._label_values = (queue, handler)
        self.delivered = Counter(
            "event_worker_delivered",
            "Deliveries received from the broker",
            labels,
            registry=self.registry,
        ).labels(queue, handler)
        self.acked = Counter(
            "event_worker_acked",
            "Events handled successfully and acked",
            labels,
            registry=self.registry,
        ).labels(queue, handler)
        self.retried = Counter(
            "event_worker_retried",
            "Events sent to the retry exchange after a handler error",
            labels,
            registry=self.registry,
        ).labels(queue, handler)
        self._dead_lettered = Counter(
            "event_worker_dead_lettered",
            "Events dead-lettered, by reason",
            (*labels, "reason"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "event_worker_handler_duration_seconds",
            "Time spent decoding and handling one event",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        ).labels(queue, handler)
        self.in_flight = Gauge(
            "event_worker_in_flight",
            "Events being handled right now",
            labels,
            registry=self.registry,
        ).labels(queue, handler)
        self.reconnects = Counter(
            "event_worker_reconnects",
            "Connection attempts made after the first one",
            labels,
            registry=self.registry,
        ).labels(queue, handler)
        self.connected = Gauge(
            "event_worker_connected",
            "1 while consuming from the broker, else 0",
            labels,
            registry=self.registry,
        ).labels(queue, handler)

    def dead_lettered(self, reason: str) -> None:
        self._dead_lettered.labels(*self._label_values, reason).inc()

    def serve(self, address: str, port: int) -> WSGIServer:
        """Start the /metrics HTTP endpoint in a daemon thread; returns the server."""
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server
