"""Fixtures of the SUSE-family scenario's own tests (the default suite runs beside them)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))
