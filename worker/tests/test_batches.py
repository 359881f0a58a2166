"""Batch handlers: many events per call, each event settled by its own outcome."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import StartWorker
from event_worker.handlers.noop import NoopBatchHandler
from event_worker.testing import build_handler, run_batch
from support import Vhost, child_env

# A batch function of the operator's: one "transaction" per call, one result per event.
PLUGIN = """
import logging
from event_worker.errors import PermanentError

LOG = logging.getLogger("kit_batch_plugin")

def record(events):
    LOG.info("batch of %d", len(events))
    results = []
    for event in events:
        kind = event.body.get("kind")
        if kind == "bad":
            results.append(PermanentError(f"order {event.body['n']} is invalid"))
        elif kind == "flaky" and event.retry_count == 0:
            results.append(TimeoutError("database busy"))
        else:
            results.append(None)
    return results

record.batch = True
record.required_fields = ("n",)

def short(events):
    return [None]

short.batch = True

def explode(events):
    raise ConnectionError("database down")

explode.batch = True
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "plugin"
    directory.mkdir()
    (directory / "kit_batch_plugin.py").write_text(PLUGIN)
    sys.path.insert(0, str(directory))
    yield directory
    sys.path.remove(str(directory))
    sys.modules.pop("kit_batch_plugin", None)


def test_each_event_of_a_batch_gets_its_own_outcome(plugin_dir: Path) -> None:
    results = run_batch(
        "kit_batch_plugin:record",
        [{"n": 1}, {"n": 2, "kind": "bad"}, b"not json", {"n": 4, "kind": "flaky"}, {"x": 5}],
    )
    assert [r.action for r in results] == [
        "ack",
        "dead-letter",
        "dead-letter",
        "retry",
        "dead-letter",
    ]
    assert results[1].reason == "permanent_error: PermanentError: order 2 is invalid"
    assert results[2].reason.startswith("invalid_json")
    assert results[3].reason == "TimeoutError: database busy"
    assert "n" in results[4].reason


def test_a_batch_that_raises_or_miscounts_fails_every_event(plugin_dir: Path) -> None:
    raised = run_batch("kit_batch_plugin:explode", [{"n": 1}, {"n": 2}])
    assert [(r.action, r.reason) for r in raised] == [
        ("retry", "ConnectionError: database down")
    ] * 2
    short = run_batch("kit_batch_plugin:short", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert {r.action for r in short} == {"retry"}
    assert short[0].reason == "RuntimeError: handle_batch returned 1 results for 3 events"


def test_the_noop_handler_has_a_batch_form() -> None:
    assert isinstance(build_handler("noop", {"batch": True}), NoopBatchHandler)
    assert [r.action for r in run_batch("noop", [{}, {}], options={"batch": True})] == [
        "ack",
        "ack",
    ]


@pytest.mark.broker
def test_a_batch_worker_settles_each_event_by_its_outcome(
    vhost: Vhost, start_worker: StartWorker, plugin_dir: Path
) -> None:
    config = vhost.worker_config(
        handler="kit_batch_plugin:record",
        options={},
        overrides={
            "consumer": {"prefetch": 40},
            "handler": {"batch_size": 10, "batch_max_wait": 0.5},
        },
    )
    worker = start_worker(config, child_env({"PYTHONPATH": str(plugin_dir)}))
    kinds = {3: "bad", 7: "flaky", 15: "bad", 21: "flaky"}
    for n in range(30):
        vhost.publish(
            "events", "order.created", {"n": n, "kind": kinds.get(n, "good")}, message_id=f"e{n}"
        )

    acked = worker.wait_for_events(lambda e: e["outcome"] == "acked", count=28, timeout=30)
    assert sorted(e["event_id"] for e in acked) == sorted(
        f"e{n}" for n in range(30) if n not in (3, 15)
    )
    dead = worker.wait_for_events(lambda e: e["outcome"] == "dead_lettered", count=2)
    assert sorted(e["event_id"] for e in dead) == ["e15", "e3"]
    assert all(e["reason"].startswith("permanent_error: PermanentError: order") for e in dead)
    retried = worker.wait_for_events(lambda e: e["outcome"] == "retried", count=2)
    assert sorted(e["event_id"] for e in retried) == ["e21", "e7"]
    sizes = [
        int(m[1]) for line in worker.snapshot() if (m := re.fullmatch(r"batch of (\d+)", line))
    ]
    assert sum(sizes) == 32  # 30 events, 2 of them again after their retry
    assert max(sizes) == 10  # full batches form while events are waiting
    vhost.wait_until_settled("order.events")
