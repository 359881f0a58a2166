"""Handlers from the operator's own packages: references, entry points, errors, the test helper,
and journald priorities (no broker needed)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from event_worker.errors import ConfigError
from event_worker.handlers import parse_handler_options
from event_worker.logsetup import JSON_LINES, LineFormatter, stream_is_journal
from event_worker.testing import build_handler, run_handler
from event_worker.tomltable import Table
from support import EVENT_WORKER, child_env

PLUGIN = """
from event_worker.errors import PermanentError
from event_worker.tomltable import Table

SEEN = []

def handle(event):
    if event.body.get("fail") == "transient":
        raise ConnectionError("ledger unreachable")
    if event.body.get("fail") == "permanent":
        raise PermanentError("invoice total is negative")
    SEEN.append(event.body["invoice_id"])

handle.required_fields = ("invoice_id",)

not_a_handler = 42

class Broken:
    @staticmethod
    def parse_options(table):
        raise RuntimeError("options service down")

class Scaled:
    def __init__(self, factor):
        self.factor = factor
        self.required_fields = ()
    def handle(self, event):
        SEEN.append(event.body["n"] * self.factor)

class ScaledOptions:
    def __init__(self, factor):
        self.factor = factor
    def build(self):
        return Scaled(self.factor)

class WithOptions:
    @staticmethod
    def parse_options(table: Table):
        table.allow("factor")
        options = ScaledOptions(table.integer("factor", 1, minimum=1))
        table.finish()
        return options
"""

ENTRY_POINTS = """
[event_worker.handlers]
invoices = kit_test_plugin:handle
scaled = kit_test_plugin:WithOptions
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """An importable module and an installed distribution registering two entry points."""
    (tmp_path / "kit_test_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "kit_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("kit_test_plugin", None)


def options(name: str, data: dict[str, object] | None = None) -> object:
    return parse_handler_options(name, Table(data or {}, "handler.options"))


def test_a_function_reference_runs_and_keeps_its_required_fields(plugin_dir: Path) -> None:
    handler = build_handler("kit_test_plugin:handle")
    assert handler.required_fields == ("invoice_id",)
    assert run_handler(handler, {"invoice_id": 7}).action == "ack"
    assert sys.modules["kit_test_plugin"].SEEN == [7]
    missing = run_handler(handler, {"amount": 1})
    assert missing.action == "dead-letter"
    assert "invoice_id" in missing.reason


def test_an_entry_point_name_resolves_like_a_reference(plugin_dir: Path) -> None:
    assert run_handler("invoices", {"invoice_id": 8}).action == "ack"
    assert run_handler("scaled", {"n": 2}, options={"factor": 5}).action == "ack"
    assert sys.modules["kit_test_plugin"].SEEN == [8, 10]


def test_outcomes_follow_the_worker_policy(plugin_dir: Path) -> None:
    transient = run_handler("invoices", {"invoice_id": 1, "fail": "transient"})
    assert transient == type(transient)("retry", "ConnectionError: ledger unreachable")
    exhausted = run_handler(
        "invoices", {"invoice_id": 1, "fail": "transient"}, retry_count=3, retry_limit=3
    )
    assert exhausted.action == "dead-letter"
    assert exhausted.reason == "handler_error: ConnectionError: ledger unreachable"
    permanent = run_handler("invoices", {"invoice_id": 1, "fail": "permanent"})
    assert permanent.action == "dead-letter"
    assert permanent.reason == "permanent_error: PermanentError: invoice total is negative"
    poison = run_handler("invoices", b"not json")
    assert poison.action == "dead-letter"
    assert poison.reason.startswith("invalid_json")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("emails", {}, "handler.name: unknown handler 'emails': built-in handlers are noop"),
        ("emails", {}, "entry points): invoices, scaled"),
        ("kit_no_such_module:handle", {}, "cannot import module 'kit_no_such_module'"),
        ("kit_test_plugin:nope", {}, "module 'kit_test_plugin' has no attribute 'nope'"),
        ("kit_test_plugin:not_a_handler", {}, "is a int: expected a function of one event"),
        ("kit_test_plugin:", {}, "is not of the form 'package.module:attribute'"),
        ("kit_test_plugin:handle", {"x": 1}, "handler.options.x: unknown key"),
        ("scaled", {"factor": 0}, "handler.options.factor: must be at least 1"),
        (
            "kit_test_plugin:Broken",
            {},
            "handler.options: kit_test_plugin:Broken: RuntimeError: options service down",
        ),
    ],
)
def test_a_handler_that_cannot_be_used_is_a_config_error_naming_why(
    plugin_dir: Path, name: str, data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        options(name, data)
    assert message in str(caught.value)


def test_check_config_imports_the_handler_and_names_the_problem(
    plugin_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("pw\n")
    config = tmp_path / "w.toml"
    base = textwrap.dedent(f"""
        [broker]
        hosts = ["rabbit1"]
        username = "u"
        password_file = "{tmp_path}/pw"
        [consumer]
        queue = "q"
        retry_exchange = "q.retry"
        dead_letter_exchange = "q.dlx"
        [handler]
        """)
    env = child_env({"PYTHONPATH": str(plugin_dir)})

    def check(handler: str) -> subprocess.CompletedProcess[str]:
        config.write_text(base + handler)
        return subprocess.run(
            [str(EVENT_WORKER), "--check-config", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )

    good = check('name = "invoices"\n')
    assert good.returncode == 0, good.stderr
    (plugin_dir / "kit_broken.py").write_text("import kit_missing_dependency\n")
    broken = check('name = "kit_broken:handle"\n')
    assert broken.returncode == 2
    assert (
        "handler.name: cannot import module 'kit_broken': ModuleNotFoundError: "
        "No module named 'kit_missing_dependency'" in broken.stderr
    )
    bad_options = check('name = "scaled"\n[handler.options]\nfactor = "5"\n')
    assert bad_options.returncode == 2
    assert "handler.options.factor: expected an integer" in bad_options.stderr


# -- journald priorities ---------------------------------------------------------------------


def log_lines(formatter: LineFormatter) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("event_worker.test_priorities")
    logger.propagate = False
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.info("[Worker] Event processed successfully")
    logger.warning("Event 7 failed: ConnectionError")
    logger.warning('{"outcome": "dead_lettered"}', extra={JSON_LINES: True})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("crashed")
    return stream.getvalue()


def test_journal_lines_carry_their_syslog_priority_tracebacks_included() -> None:
    lines = log_lines(LineFormatter(journal=True)).splitlines()
    assert lines[0] == "<6>[Worker] Event processed successfully"
    assert lines[1] == "<4>WARNING: Event 7 failed: ConnectionError"
    assert lines[2] == '<4>{"outcome": "dead_lettered"}'
    assert lines[3] == "<3>ERROR: crashed"
    assert len(lines) > 5
    assert all(line.startswith("<3>") for line in lines[3:])
    assert lines[-1] == "<3>ValueError: boom"


def test_plain_lines_without_the_journal() -> None:
    assert log_lines(LineFormatter()).splitlines()[:3] == [
        "[Worker] Event processed successfully",
        "WARNING: Event 7 failed: ConnectionError",
        '{"outcome": "dead_lettered"}',
    ]


def test_the_journal_is_recognised_by_device_and_inode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "out").open("w") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        assert not stream_is_journal(stream)
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino + 1}")
        assert not stream_is_journal(stream)
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert stream_is_journal(stream)
