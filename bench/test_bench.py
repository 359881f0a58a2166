"""The benchmark's tiny mode end to end: it must keep working (no performance thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import report
from bench.context import REPO

MEASURED = ("throughput", "tutorial", "latency", "scaling", "publisher")


def _numbers(value: object) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return []


def test_tiny_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "tiny"
    assert results["machine"]["cores"] >= 1
    sections = results["sections"]
    for name in MEASURED:
        assert "error" not in sections[name], sections[name]
        rows = sections[name]["rows"]
        assert rows, name
        assert all(n > 0 for row in rows for n in _numbers(row) if n is not None), rows
        assert (out / f"{name}.png").stat().st_size > 0
    assert sections["deploy"] == {"skipped": "not in --tiny mode"}
    assert {row["prefetch"] for row in sections["throughput"]["rows"]} == {10, 300}
    markdown = (out / "results.md").read_text()
    for title in ("Throughput", "tutorial's workload", "latency", "Scaling", "publisher"):
        assert title in markdown


def test_readme_summary_block_is_rewritten_in_place(tmp_path: Path) -> None:
    results = json.loads((REPO / "bench" / "results" / "results.json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"# Kit\n\n{report.README_START}\nstale\n{report.README_END}\n\n## Layout\n")
    assert report.update_readme(readme, results)
    text = readme.read_text()
    assert "stale" not in text
    assert "| tutorial workload, kit defaults vs tutorial worker | >= 50x |" in text
    assert text.startswith("# Kit\n\n") and text.endswith(f"{report.README_END}\n\n## Layout\n")
    assert report.README_START in (REPO / "README.md").read_text(), "the top-level README lost its block"
    readme.write_text("# no block\n")
    assert not report.update_readme(readme, results)
