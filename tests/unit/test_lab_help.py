"""`./lab help` prints the usage and nothing of the script."""

import subprocess
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "lab"


def test_lab_help_prints_the_usage_only():
    out = subprocess.run([str(LAB), "help"], capture_output=True, text=True, check=True, timeout=30).stdout
    lines = out.splitlines()
    assert lines[0].startswith("The local lab:")
    assert lines[-1].lstrip().startswith("./lab down")
    assert not [line for line in lines if "set -euo" in line or line.startswith("cd ")]
