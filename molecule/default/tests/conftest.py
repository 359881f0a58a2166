"""Fixtures of the default scenario's testinfra tests."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))

from kit_testing import Admin


@pytest.fixture
def admin(host):
    return Admin(host)


@pytest.fixture
def paused_workers(host):
    """Stop the event workers for the test, so it can read the queues itself."""
    units = " ".join(
        host.check_output(
            "systemctl list-units --plain --no-legend --state=active 'event-worker@*' | awk '{print $1}'"
        ).split()
    )
    if not units:
        yield
        return
    # All units in one systemctl call: systemd stops, and starts, them in parallel, and the
    # start returns once every unit has reported READY.
    host.check_output(f"systemctl stop {units}")
    yield
    # Tests pause the workers often; flush systemd's start rate limit
    # (5 starts in 10 s) so the next start is not refused.
    host.check_output(f"systemctl reset-failed {units} && systemctl start {units}")


@pytest.fixture(scope="module")
def tls(host):
    """True in the TLS variant of the scenario (MOLECULE_TLS=true)."""
    return str(host.ansible.get_variables().get("rabbitmq_server_tls", False)).lower() == "true"


def pytest_collection_modifyitems(items):
    """The tests of the second converge (test_security.py's watched_converge) run first, right
    after molecule's converge and check steps: that converge is the scenario's idempotence check,
    so no other test may have touched the deployment before it. The sort is stable."""
    items.sort(key=lambda item: "watched_converge" not in getattr(item, "fixturenames", ()))
