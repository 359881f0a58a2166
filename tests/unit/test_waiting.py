"""testbed/waiting.py: the one wait_until of the tests, the benchmark and the molecule scenarios."""

import importlib
import time
from pathlib import Path

import pytest

import testbed.rabbitnode
import testbed.waiting
from testbed.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def answers(*values):
    """A predicate that returns (or raises) ``values`` in turn, then keeps returning the last one."""
    calls = []

    def predicate():
        value = values[min(len(calls), len(values) - 1)]
        calls.append(value)
        if isinstance(value, Exception):
            raise value
        return value

    predicate.calls = calls
    return predicate


def test_returns_the_first_truthy_value():
    predicate = answers(None, 0, [], {"order.events": 1})
    assert wait_until(predicate, 5, interval=0.01) == {"order.events": 1}
    assert len(predicate.calls) == 4


def test_raises_after_the_timeout_naming_what_it_waited_for():
    predicate = answers(False)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"^timed out after 0\.3 s waiting for the retried message$"):
        wait_until(predicate, 0.3, interval=0.05, what="the retried message")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert len(predicate.calls) >= 3  # at once, every interval, and once more at the deadline


def test_an_exception_named_in_retry_on_is_retried():
    predicate = answers(ConnectionRefusedError("not yet"), ConnectionRefusedError("not yet"), "up")
    assert wait_until(predicate, 5, interval=0.01, retry_on=(ConnectionError,)) == "up"
    assert len(predicate.calls) == 3


def test_the_last_retried_exception_is_named_and_chained_on_timeout():
    refused = ConnectionRefusedError("connection refused")
    with pytest.raises(TimeoutError, match=r"broker up .*ConnectionRefusedError: connection refused") as caught:
        wait_until(answers(refused), 0.1, interval=0.02, what="broker up", retry_on=(OSError,))
    assert caught.value.__cause__ is refused


def test_any_other_exception_ends_the_wait_at_once():
    predicate = answers(None, KeyError("order.events"), "never reached")
    started = time.monotonic()
    with pytest.raises(KeyError):
        wait_until(predicate, 30, interval=0.01, retry_on=(ConnectionError,))
    assert time.monotonic() - started < 5
    assert len(predicate.calls) == 2


@pytest.mark.parametrize(("timeout", "interval"), [(-1, 0.5), (1, 0), (1, -0.5)])
def test_a_negative_timeout_or_no_interval_is_refused(timeout, interval):
    with pytest.raises(ValueError):
        wait_until(lambda: True, timeout, interval=interval)


def test_the_node_and_the_molecule_helpers_use_this_very_function(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "molecule" / "common"))
    kit_testing = importlib.import_module("kit_testing")
    assert kit_testing.wait_until is testbed.waiting.wait_until
    assert testbed.rabbitnode.wait_until is testbed.waiting.wait_until
