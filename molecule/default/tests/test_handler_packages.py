"""The operator's own handler package (examples/handler-package), deployed by the role as the
`payments` instance, processing real events; and the workers' journal priorities."""

import json
import shutil
import subprocess
import sys
import time

import pytest
from kit_testing import PROJECT, Admin, playbook, role_logic, wait_until

UNIT = "event-worker@payments"
DLQ = "payment.events.dlq"


def journal(host, since, *options):
    return host.check_output(
        f"journalctl --output cat --unit {UNIT} --since @{since:.0f} --no-pager {' '.join(options)}"
    ).splitlines()


def pids(host):
    return {
        name: host.service(f"event-worker@{name}").systemd_properties["MainPID"]
        for name in ("orders", "whatsapp", "payments")
    }


@pytest.fixture(scope="module")
def failing_run(host):
    """One event of each fate through the payments worker: processed, retried once then
    processed, dead-lettered at once. Returns the time it started."""
    admin = Admin(host)
    wait_until(lambda: host.service(UNIT).is_running, timeout=60, what=f"{UNIT} running")
    since = time.time() - 1
    admin.publish("events", "payment.captured", {"event_id": "pay-ok", "payment_id": "p-ok", "amount": 12.5})
    admin.publish(
        "events",
        "payment.captured",
        {"event_id": "pay-retry", "payment_id": "p-retry", "amount": 3, "unavailable_attempts": 1},
    )
    admin.publish("events", "payment.captured", {"event_id": "pay-bad", "payment_id": "p-bad", "amount": -5})
    # The retry comes back after the retry queue's TTL (5 s).
    wait_until(
        lambda: "[Payments] Captured payment p-retry: 3.00" in journal(host, since),
        timeout=60,
        what="the retried payment processed",
    )
    wait_until(
        lambda: any('"event_id": "pay-bad"' in line and "dead_lettered" in line for line in journal(host, since)),
        timeout=30,
        what="the bad payment dead-lettered",
    )
    return since


def test_the_package_is_built_on_the_controller_and_installed_in_the_venv(host):
    shown = host.check_output("/opt/event-worker/venv/bin/pip show kit-example-handlers")
    assert "Version: 1.0.0" in shown
    config = host.file("/etc/event-worker/payments.toml").content_string
    wheel = "kit_example_handlers-1.0.0-py3-none-any.whl"
    assert f"# handler package (a new build restarts this unit): {wheel} sha256:" in config
    assert 'name = "payments"' in config
    assert "handler package" not in host.file("/etc/event-worker/orders.toml").content_string


def test_a_payment_is_processed_by_the_operators_code(host, failing_run):
    assert "[Payments] Captured payment p-ok: 12.50" in journal(host, failing_run)


def test_a_transient_failure_is_retried_then_processed(host, failing_run):
    lines = journal(host, failing_run)
    failed = "WARNING: Event pay-retry failed: ConnectionError: payment gateway unavailable (attempt 1)"
    assert failed in lines
    assert lines.index(failed) < lines.index("[Payments] Captured payment p-retry: 3.00")
    retried = [json.loads(line) for line in lines if line.startswith('{"event_id": "pay-retry"')]
    assert [event["outcome"] for event in retried] == ["retried", "acked"]


def test_a_permanent_failure_is_dead_lettered_with_its_reason(host, admin, failing_run):
    dead = wait_until(lambda: admin.get(DLQ), timeout=30, what=f"the bad payment in {DLQ}")
    assert json.loads(dead[0]["payload"])["payment_id"] == "p-bad"
    assert dead[0]["properties"]["headers"]["x-dead-letter-reason"] == (
        "permanent_error: PermanentError: payment p-bad: amount must be a positive number"
    )


def test_journalctl_priority_warning_shows_exactly_the_warnings(host, failing_run):
    every = journal(host, failing_run)
    warnings = journal(host, failing_run, "--priority warning")
    expected = [
        line for line in every if line.startswith(("WARNING: ", "ERROR: ")) or '"outcome": "dead_lettered"' in line
    ]
    assert len(expected) >= 3, every  # the retry's failure, the permanent failure, its dead-lettering
    assert warnings == expected
    priorities = {
        json.loads(entry)["MESSAGE"]: json.loads(entry)["PRIORITY"]
        for entry in host.check_output(
            f"journalctl --output json --unit {UNIT} --since @{failing_run:.0f} --no-pager"
        ).splitlines()
    }
    assert priorities["[Payments] Captured payment p-ok: 12.50"] == "6"


@role_logic
def test_a_changed_package_restarts_only_the_units_that_use_it(host, tmp_path):
    changed = tmp_path / "handler-package"
    shutil.copytree(PROJECT / "examples/handler-package", changed, ignore=shutil.ignore_patterns("__pycache__"))
    source = changed / "src/kit_example/payments.py"
    source.write_text(source.read_text() + "\n# a new build of the same version\n")
    before = pids(host)
    code, out = playbook("playbooks/workers.yml", "-e", json.dumps({"event_worker_handler_packages": [str(changed)]}))
    assert code == 0, out[-3000:]
    after = pids(host)
    assert after["payments"] != before["payments"]
    assert {k: after[k] for k in ("orders", "whatsapp")} == {k: before[k] for k in ("orders", "whatsapp")}
    # Back to the repository's package: payments restarts once more, the others never.
    code, out = playbook("playbooks/workers.yml")
    assert code == 0, out[-3000:]
    restored = pids(host)
    assert restored["payments"] != after["payments"]
    assert {k: restored[k] for k in ("orders", "whatsapp")} == {k: before[k] for k in ("orders", "whatsapp")}
    wait_until(lambda: host.service(UNIT).is_running, timeout=60, what=f"{UNIT} running")


@role_logic
def test_a_compiled_wheel_for_another_architecture_is_refused_by_name(host, tmp_path):
    """The controller does not cross-compile: a wheel built for another machine stops the run."""
    arch = host.check_output("uname -m")
    other = "x86_64" if arch == "aarch64" else "aarch64"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(PROJECT / "examples/handler-package"),
        ],
        check=True,
        timeout=120,
    )
    built = next(tmp_path.glob("kit_example_handlers-*.whl"))
    foreign = tmp_path / f"kit_example_handlers-1.0.0-cp311-cp311-manylinux_2_17_{other}.whl"
    shutil.copy(built, foreign)
    before = host.file("/etc/event-worker/payments.toml").content_string
    code, out = playbook("playbooks/workers.yml", "-e", json.dumps({"event_worker_handler_packages": [str(foreign)]}))
    assert code != 0
    assert f"{foreign.name} is compiled for manylinux_2_17_{other}, the host is {arch}" in out
    assert host.file("/etc/event-worker/payments.toml").content_string == before
    assert not host.file(f"/opt/event-worker/handlers/{foreign.name}").exists
