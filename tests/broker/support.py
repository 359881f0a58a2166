"""What the broker tests share: the private node's API, a play run (the node: tests/conftest.py)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from testbed.rabbitnode import RabbitNode

ROOT = Path(__file__).resolve().parents[2]


def api(node: RabbitNode, method: str, path: str, body: Any = None) -> Any:
    """One management API call as guest; the decoded answer (None when empty)."""
    request = urllib.request.Request(
        f"{node.http_url}/api/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def run_play(directory: Path, *args: str) -> str:
    """ansible-playbook play.yml -e @vars.json [args] in directory, with the kit's ansible.cfg; its output."""
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    result = subprocess.run(
        [
            playbook,
            "-i",
            "localhost,",
            "play.yml",
            "-e",
            "@vars.json",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout
