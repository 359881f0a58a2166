"""`./lab help` prints the usage and nothing of the script; `./lab up` checks its options first."""

import subprocess
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "lab"


def test_lab_help_prints_the_usage_only():
    out = subprocess.run([str(LAB), "help"], capture_output=True, text=True, check=True, timeout=30).stdout
    lines = out.splitlines()
    assert lines[0].startswith("The local lab:")
    assert lines[-1].lstrip().startswith("./lab down")
    assert not [line for line in lines if "set -euo" in line or line.startswith("cd ")]


def test_lab_up_refuses_a_bad_worker_count_before_touching_anything():
    for argv in (["up", "--workers", "0"], ["up", "--workers"], ["up", "--workers", "two"], ["up", "--nodes"]):
        result = subprocess.run([str(LAB), *argv], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 1, argv
        assert "[lab] next: ./lab up" in result.stderr, result.stderr
        assert "preparing the test bed" not in result.stdout
