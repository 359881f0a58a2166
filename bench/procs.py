"""Consumers under test as child processes whose output goes to a file the benchmark polls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

BIN_DIR = Path(sys.executable).parent
# A child's environment must not point it at systemd or another broker.
SCRUBBED_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "EVENT_PUBLISH_URL")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    if extra:
        env.update(extra)
    return env


class ChildProcess:
    """One child; stdout and stderr go to ``log``, read back by :meth:`text` and :meth:`count`."""

    def __init__(self, argv: Sequence[str], log: Path, markers: Sequence[bytes], cwd: Path | None = None) -> None:
        self.argv = list(argv)
        self.log = log
        self._offset = 0
        self._counts = dict.fromkeys(markers, 0)
        self._tail = b""
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env(),
                cwd=cwd,
            )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def count(self, marker: bytes) -> int:
        """Complete output lines so far that contain ``marker`` (one of ``markers``)."""
        with self.log.open("rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read()
        self._offset += len(chunk)
        data = self._tail + chunk
        cut = data.rfind(b"\n") + 1
        complete, self._tail = data[:cut], data[cut:]
        for known in self._counts:
            self._counts[known] += complete.count(known)
        return self._counts[marker]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        """CPU time used so far by all of its threads (Linux schedstat, nanosecond precision)."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that just ended
        return total / 1e9

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the kit's worker settles in-flight events first), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode
