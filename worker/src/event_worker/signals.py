"""SIGTERM/SIGINT into the I/O loop, without locks in signal handlers.

The C-level handler writes the signal number to a non-blocking pipe (``signal.set_wakeup_fd``);
the I/O loop watches the pipe and calls back on its own thread.  Nothing runs inside the Python
signal handler, so a signal can never deadlock against a lock the interrupted code holds.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGINT)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The work happens in the I/O loop, woken through the wakeup fd."""


class SignalPipe:
    def __init__(self, ioloop: Any, on_signal: Callable[[str], None]) -> None:
        self._ioloop = ioloop
        self._on_signal = on_signal
        self._fds: tuple[int, int] | None = None
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1

    def install(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._fds = (read_fd, write_fd)
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, _ignore)
        self._previous_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._ioloop.add_handler(read_fd, self._on_readable, self._ioloop.READ)

    def restore(self) -> None:
        if self._fds is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._ioloop.remove_handler(self._fds[0])
        for fd in self._fds:
            os.close(fd)
        self._fds = None

    def _on_readable(self, fd: int, _events: int) -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        for signum in data:
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = f"signal {signum}"
            self._on_signal(f"Received {name}")
