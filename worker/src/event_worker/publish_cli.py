"""``event-publish``: publish JSON events with publisher confirms and ``mandatory``.

Examples::

    event-publish --config /etc/event-worker/orders.toml --exchange events \\
        --routing-key order.created '{"order_id":123,"event":"order.created"}'
    event-publish --url amqp://user:pass@localhost/%2F --exchange events \\
        --routing-key order.created --count 10000 --window 256 --file event.json

Exit status: 0 when every message was confirmed; 1 when any was returned as unroutable,
nacked or left unconfirmed, the connection failed, or the broker kept it blocked longer than
``--blocked-timeout``; 2 for usage and configuration errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import pika

from event_worker import __version__
from event_worker.broker import connection_parameters, describe_target
from event_worker.config import load_broker_config
from event_worker.decoding import strict_json_loads
from event_worker.errors import ConfigError
from event_worker.publisher import (
    ConfirmingPublisher,
    OutgoingMessage,
    PublishReport,
    Target,
    new_message_id,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
URL_ENV = "EVENT_PUBLISH_URL"


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="event-publish",
        description="Publish JSON events to RabbitMQ with publisher confirms (mandatory, "
        "persistent). Connection from --config (its [broker] table), --url, or $" + URL_ENV + ".",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", type=Path, metavar="FILE", help="worker TOML file; its [broker] table is used"
    )
    source.add_argument(
        "--url", metavar="URL", help=f"amqp://user:pass@host:port/vhost (or ${URL_ENV})"
    )
    parser.add_argument("--exchange", default="", help="exchange to publish to (default: '')")
    parser.add_argument("--routing-key", required=True, help="routing key of every message")
    parser.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="JSON payloads: one document per line, or a single document",
    )
    parser.add_argument(
        "--count", type=int, default=1, metavar="N", help="publish each payload N times"
    )
    parser.add_argument(
        "--window",
        type=int,
        default=1,
        metavar="N",
        help="maximum unconfirmed publishes in flight (1 = wait for each confirm)",
    )
    parser.add_argument(
        "--blocked-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="fail if the broker blocks the connection longer than this (default: 60)",
    )
    parser.add_argument(
        "--failover-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help=(
            "when the connection is lost mid-stream, reconnect to the next broker and publish "
            "the unconfirmed messages again; give up after this long (0: fail at once; default: 60)"
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="no summary line")
    parser.add_argument(
        "payloads",
        nargs="*",
        metavar="PAYLOAD",
        help="JSON document to publish; '-' reads documents from stdin",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# -- payloads ----------------------------------------------------------------------------------


def split_documents(text: str, source: str) -> list[str]:
    """A single JSON document, or one document per non-empty line."""
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"{source}: no JSON document found")
    try:
        strict_json_loads(stripped)
    except ValueError:
        pass
    else:
        return [stripped]
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            strict_json_loads(line)
        except ValueError as exc:
            raise UsageError(f"{source} line {number}: not valid JSON: {exc}") from None
        documents.append(line.strip())
    return documents


def collect_payloads(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    documents: list[str] = []
    for index, payload in enumerate(args.payloads, start=1):
        if payload == "-":
            documents.extend(split_documents(stdin.read(), "stdin"))
            continue
        try:
            strict_json_loads(payload)
        except ValueError as exc:
            raise UsageError(f"payload argument {index} is not valid JSON: {exc}") from None
        documents.append(payload)
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {str(args.file)!r}: {exc}") from None
        documents.extend(split_documents(text, str(args.file)))
    if not documents:
        raise UsageError("nothing to publish: give JSON payload arguments, --file PATH or '-'")
    return documents


def _event_id(document: object) -> str | None:
    if isinstance(document, dict):
        value = document.get("event_id")
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def generate_messages(documents: Sequence[str], count: int) -> Iterator[OutgoingMessage]:
    """Each document ``count`` times; repeats get their own event_id and message_id."""
    for text in documents:
        parsed = json.loads(text)
        original_id = _event_id(parsed)
        if count == 1:
            yield OutgoingMessage(text.encode("utf-8"), original_id or new_message_id())
            continue
        for number in range(1, count + 1):
            message_id = f"{original_id}-{number}" if original_id else new_message_id()
            if isinstance(parsed, dict):
                body = json.dumps({**parsed, "event_id": message_id}, separators=(",", ":"))
            else:
                body = text
            yield OutgoingMessage(body.encode("utf-8"), message_id)


# -- connection targets ------------------------------------------------------------------------


def redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def build_targets(args: argparse.Namespace) -> list[Target]:
    if args.config is not None:
        broker = load_broker_config(args.config)
        return [
            Target(
                connection_parameters(
                    broker,
                    host,
                    program="event-publish",
                    blocked_connection_timeout=args.blocked_timeout,
                ),
                describe_target(broker, host),
            )
            for host in broker.hosts
        ]
    url = args.url or os.environ.get(URL_ENV)
    if not url:
        raise UsageError(f"no broker given: use --config FILE, --url URL or ${URL_ENV}")
    try:
        parameters = pika.URLParameters(url)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid --url {redact_url(url)!r}: {exc}") from None
    parameters.blocked_connection_timeout = args.blocked_timeout
    parameters.connection_attempts = 1
    return [Target(parameters, redact_url(url))]


# -- main --------------------------------------------------------------------------------------


def report_problems(report: PublishReport, exchange: str, err: TextIO) -> None:
    if report.returned:
        for key, reason in report.returned_reasons.items():
            print(
                f"event-publish: {report.returned} message(s) returned as unroutable: "
                f"exchange {exchange!r} has no binding for routing key {key!r} ({reason})",
                file=err,
            )
    if report.nacked:
        print(f"event-publish: {report.nacked} message(s) nacked by the broker", file=err)
    if report.error is not None:
        print(f"event-publish: {report.error}", file=err)
    if report.unconfirmed > 0:
        print(f"event-publish: {report.unconfirmed} message(s) left unconfirmed", file=err)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err = sys.stderr
    if args.count < 1:
        parser.error("--count must be at least 1")
    if args.window < 1:
        parser.error("--window must be at least 1")
    if args.blocked_timeout <= 0:
        parser.error("--blocked-timeout must be greater than 0")
    if args.failover_timeout < 0:
        parser.error("--failover-timeout must not be negative")
    try:
        documents = collect_payloads(args, sys.stdin)
        targets = build_targets(args)
    except UsageError as exc:
        print(f"event-publish: {exc}", file=err)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"event-publish: invalid configuration {str(args.config)!r}: {exc}", file=err)
        return EXIT_USAGE

    def on_blocked(reason: str) -> None:
        print(
            f"event-publish: connection blocked by broker: {reason}; "
            f"waiting up to {args.blocked_timeout:g} s",
            file=err,
            flush=True,
        )

    def on_unblocked() -> None:
        print("event-publish: connection unblocked by broker; continuing", file=err, flush=True)

    publisher = ConfirmingPublisher(
        targets,
        exchange=args.exchange,
        routing_key=args.routing_key,
        window=args.window,
        failover_timeout=args.failover_timeout,
        on_blocked=on_blocked,
        on_unblocked=on_unblocked,
    )
    report = publisher.run(generate_messages(documents, args.count))
    report_problems(report, args.exchange, err)
    if not args.quiet:
        failovers = (
            f"; {report.failovers} failover(s), {report.republished} republished"
            if report.failovers
            else ""
        )
        print(
            f"event-publish: published {report.published}, confirmed {report.confirmed} "
            f"in {report.elapsed:.2f} s ({report.rate:.0f} msgs/s){failovers}",
            file=err,
        )
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
