"""RabbitMQ event worker: consume one queue with one handler, retry and dead-letter safely."""

from event_worker.errors import ConfigError, PermanentError
from event_worker.handlers.base import Event, Handler

__all__ = ["ConfigError", "Event", "Handler", "PermanentError", "__version__"]

__version__ = "0.1.0"
