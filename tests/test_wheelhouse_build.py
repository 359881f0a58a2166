"""The worker's wheel is rebuilt on the controller when, and only when, its source changed.

Runs the event_worker role's build step (tasks/build.yml) against localhost, as site.yml does
once per run, with a copy of worker/ as the source and a fresh wheelhouse.
"""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from conftest import ROOT

PLAYBOOK = """
- name: Build the worker's wheelhouse
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Build
      ansible.builtin.include_role:
        name: event_worker
        tasks_from: build
"""
BUILD_TASK = "Build the wheelhouse on the controller"


def build(tmp_path: Path, source: Path, wheelhouse: Path) -> bool:
    """Run the build step; True when the build task ran, False when it was skipped."""
    playbook = tmp_path / "build.yml"
    playbook.write_text(PLAYBOOK)
    # No inventory: the implicit localhost, as site.yml's controller-side tasks run on.
    inventory = tmp_path / "empty.ini"
    inventory.write_text("")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(playbook),
            # rabbitmq_api_password: the role's dependency requires one; the build makes no API call.
            "-e",
            json.dumps(
                {
                    "event_worker_source_dir": str(source),
                    "event_worker_wheelhouse_dir": str(wheelhouse),
                    "rabbitmq_api_password": "unused",
                }
            ),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = [task for play in json.loads(result.stdout)["plays"] for task in play["tasks"]]
    outcomes = [t["hosts"]["localhost"] for t in tasks if t["task"]["name"].endswith(BUILD_TASK)]
    assert len(outcomes) == 1, [t["task"]["name"] for t in tasks]
    return not outcomes[0].get("skipped", False)


def worker_wheel(wheelhouse: Path) -> Path:
    (wheel,) = wheelhouse.glob("event_worker-*.whl")
    return wheel


def test_wheel_is_rebuilt_only_when_the_source_changed(tmp_path):
    source = tmp_path / "worker"
    shutil.copytree(ROOT / "worker", source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache"))
    wheelhouse = tmp_path / "wheelhouse"

    assert build(tmp_path, source, wheelhouse), "a fresh wheelhouse must be built"
    assert worker_wheel(wheelhouse).exists()

    # Nothing changed: no build; bytecode written beside the source is not a change.
    (source / "src" / "event_worker" / "__pycache__").mkdir(exist_ok=True)
    (source / "src" / "event_worker" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert not build(tmp_path, source, wheelhouse)

    # A changed source file: built again, and the wheel carries the change.
    module = source / "src" / "event_worker" / "__init__.py"
    module.write_text(module.read_text() + "\n# rebuilt-marker\n")
    assert build(tmp_path, source, wheelhouse)
    with zipfile.ZipFile(worker_wheel(wheelhouse)) as wheel:
        assert "# rebuilt-marker" in wheel.read("event_worker/__init__.py").decode()

    # The worker's wheel removed from the wheelhouse: built again.
    worker_wheel(wheelhouse).unlink()
    assert build(tmp_path, source, wheelhouse)
    assert worker_wheel(wheelhouse).exists()
