"""A fixed-size pool of daemon threads for handlers.

Daemon threads, unlike concurrent.futures', never keep the process alive after the shutdown
timeout: a handler that hangs cannot block exit (its delivery is simply redelivered).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)

Task = Callable[[], None]


class HandlerPool:
    def __init__(self, size: int, name: str = "handler") -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i + 1}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: Task) -> None:
        self._tasks.put(task)

    def shutdown(self) -> None:
        """Ask idle threads to exit; busy ones finish their task first (never joined)."""
        for _ in self._threads:
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                task()
            except BaseException:  # the task reports its own outcome; this is a last resort
                LOG.exception("handler task crashed")
