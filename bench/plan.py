"""How big each benchmark is, in full and in ``--tiny`` mode."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    repeats: int
    # throughput
    messages: int
    prefetches: tuple[int, ...]
    # tutorial workload
    tutorial_events: int
    tutorial_work_seconds: float
    tutorial_concurrency: int
    """The second kit row: the one setting (concurrency) raised."""
    # latency
    latency_rate: int
    latency_seconds: float
    latency_prefetch: int
    # scaling
    scaling_processes: tuple[int, ...]
    scaling_messages: int
    # publisher
    publish_single: int
    publish_batched: int
    publish_windows: tuple[int, ...]


FULL = Plan(
    repeats=5,
    messages=20_000,
    prefetches=(1, 10, 100, 300),
    tutorial_events=200,
    tutorial_work_seconds=2.0,
    tutorial_concurrency=200,
    latency_rate=1_000,
    latency_seconds=10.0,
    latency_prefetch=32,
    scaling_processes=(1, 2, 4),
    scaling_messages=20_000,
    publish_single=2_000,
    publish_batched=20_000,
    publish_windows=(1, 32, 256),
)

TINY = Plan(
    repeats=1,
    messages=200,
    prefetches=(10, 300),
    tutorial_events=10,
    tutorial_work_seconds=0.1,
    tutorial_concurrency=10,
    latency_rate=100,
    latency_seconds=1.0,
    latency_prefetch=32,
    scaling_processes=(1, 2),
    scaling_messages=200,
    publish_single=50,
    publish_batched=200,
    publish_windows=(1, 32),
)
