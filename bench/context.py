"""What every benchmark section gets: the broker, a scratch directory, the plan, a logger."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.plan import Plan
from bench.target import Broker

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    broker: Broker
    workdir: Path
    plan: Plan
    tiny: bool
    queues: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def work_queue(self, name: str) -> str:
        """Declare ``bench.<name>`` with its dead-letter and retry exchanges; deleted at exit."""
        queue = f"bench.{name}"
        self.broker.declare_work_queue(queue)
        if queue not in self.queues:
            self.queues.append(queue)
        return queue

    def scratch(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def cleanup(self) -> None:
        for queue in self.queues:
            self.broker.delete_work_queue(queue)
        self.queues.clear()
