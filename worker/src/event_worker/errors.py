"""Exceptions shared by the worker, its handlers and its command-line tools."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid.

    The message always names the offending key (for example ``consumer.prefetch``).
    """


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (bad data, 4xx from an API, ...).

    The worker dead-letters the event at once instead of sending it through the retry queue.
    """
