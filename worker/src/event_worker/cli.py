"""``event-worker``: run the worker, or validate its configuration (``--check-config``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from event_worker import __version__
from event_worker.config import load_config
from event_worker.errors import ConfigError
from event_worker.logsetup import configure_logging
from event_worker.worker import Worker

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

LOG = logging.getLogger("event_worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="event-worker",
        description="Consume one RabbitMQ queue with one handler (retries, dead-lettering, "
        "graceful shutdown, systemd notify, Prometheus metrics).",
    )
    parser.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="TOML configuration file"
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration and exit: 0 if valid, 2 if not",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (default: INFO)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"event-worker: invalid configuration {str(args.config)!r}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(f"event-worker: configuration {str(args.config)!r} is valid")
        return EXIT_OK

    configure_logging(getattr(logging, args.log_level))
    try:
        return Worker(config).run()
    except Exception:
        # A bug, not an operating condition: log it, exit non-zero, let systemd restart us.
        # Unacked deliveries go back to the queue when the connection drops with the process.
        LOG.exception("event-worker crashed")
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
