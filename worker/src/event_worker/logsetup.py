"""Logging to stdout, one flushed line per record (journald adds timestamps).

When stdout is the journal (systemd sets ``JOURNAL_STREAM`` to its device and inode), every line
starts with its syslog priority (``<4>``), which journald strips and files as the entry's
PRIORITY: ``journalctl -p warning`` then shows warnings and errors only.  A traceback's lines
each carry the priority of their record.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# A record flagged with this attribute (``extra={JSON_LINES: True}``) holds JSON lines: they
# get no "LEVEL: " text prefix, only the journal priority.
JSON_LINES = "json_lines"

# syslog(3) priorities of the logging levels.
PRIORITIES = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def syslog_priority(levelno: int) -> int:
    """The priority of the highest logging level at or below ``levelno``."""
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return PRIORITIES[logging.DEBUG]


class LineFormatter(logging.Formatter):
    """``%(message)s`` for INFO and below, ``LEVEL: message`` above, tracebacks kept.

    With ``journal=True`` each line is prefixed with ``<N>``, its record's syslog priority.
    """

    def __init__(self, journal: bool = False) -> None:
        super().__init__("%(message)s")
        self._journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING and not getattr(record, JSON_LINES, False):
            text = f"{record.levelname}: {text}"
        if not self._journal:
            return text
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.split("\n"))


def stream_is_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``JOURNAL_STREAM``)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stdout
    handler = logging.StreamHandler(target)
    handler.setFormatter(LineFormatter(journal=stream_is_journal(target)))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # pika logs every connection hiccup at ERROR/WARNING with tracebacks; the worker reports
    # connection problems itself, in one line each.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
