"""Logging to stdout, one flushed line per record (journald adds timestamps)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class LineFormatter(logging.Formatter):
    """``%(message)s`` for INFO and below, ``LEVEL: message`` above, tracebacks kept."""

    def __init__(self) -> None:
        super().__init__("%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname}: {text}"
        return text


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # pika logs every connection hiccup at ERROR/WARNING with tracebacks; the worker reports
    # connection problems itself, in one line each.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
