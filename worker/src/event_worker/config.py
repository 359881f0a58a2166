"""The worker's TOML configuration, loaded and validated once into frozen dataclasses.

Unknown keys are errors, every error names its key, and secrets are read from files (never
from the configuration itself) and kept out of ``repr``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from event_worker.errors import ConfigError
from event_worker.handlers import HandlerOptions, parse_handler_options
from event_worker.tomltable import Table

AMQP_PORT = 5672
AMQPS_PORT = 5671


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_hostname: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    hosts: tuple[HostPort, ...]
    username: str
    password: str = field(repr=False)
    vhost: str = "/"
    heartbeat: int = 30
    connection_timeout: float = 10.0
    blocked_connection_timeout: float = 60.0
    tls: TlsConfig | None = None


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    queue: str
    retry_exchange: str
    dead_letter_exchange: str
    prefetch: int = 100
    max_body_bytes: int = 1024 * 1024
    retry_limit: int = 3
    shutdown_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    name: str
    options: HandlerOptions
    batch_size: int = 100
    """Batch handlers only: most events per call (capped by consumer.prefetch)."""
    batch_max_wait: float = 0.05
    """Batch handlers only: seconds the first event of a batch waits for more."""


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    address: str = "127.0.0.1"
    port: int = 9101

    @property
    def enabled(self) -> bool:
        return self.port != 0


@dataclass(frozen=True, slots=True)
class ReconnectConfig:
    initial_delay: float = 1.0
    max_delay: float = 30.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    broker: BrokerConfig
    consumer: ConsumerConfig
    handler: HandlerConfig
    metrics: MetricsConfig = MetricsConfig()
    reconnect: ReconnectConfig = ReconnectConfig()


# -- parsing ---------------------------------------------------------------------------------


def read_toml(path: Path) -> Table:
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not valid TOML: {exc}") from None
    return Table(data)


def parse_host(text: str, default_port: int, table: Table, index: int) -> HostPort:
    key = f"hosts[{index}]"
    host, port_text = text.strip(), ""
    if host.startswith("["):  # [IPv6]:port
        end = host.find("]")
        if end == -1:
            raise table.error(key, f"unbalanced '[' in {text!r}")
        rest = host[end + 1 :]
        host = host[1:end]
        if rest:
            if not rest.startswith(":"):
                raise table.error(key, f"expected [address]:port, got {text!r}")
            port_text = rest[1:]
    elif host.count(":") == 1:
        host, port_text = host.split(":")
    if not host or any(ch.isspace() for ch in host):
        raise table.error(key, f"expected 'host' or 'host:port', got {text!r}")
    if not port_text:
        return HostPort(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise table.error(key, f"invalid port {port_text!r} in {text!r}")
    return HostPort(host, int(port_text))


def parse_tls(table: Table) -> TlsConfig:
    table.allow("ca_file", "cert_file", "key_file", "server_hostname")
    tls = TlsConfig(
        ca_file=table.readable_file("ca_file"),
        cert_file=table.optional_readable_file("cert_file"),
        key_file=table.optional_readable_file("key_file"),
        server_hostname=table.optional_string("server_hostname"),
    )
    if tls.key_file is not None and tls.cert_file is None:
        raise table.error("key_file", "needs cert_file as well")
    table.finish()
    return tls


def parse_broker(table: Table) -> BrokerConfig:
    table.allow(
        "hosts",
        "vhost",
        "username",
        "password_file",
        "heartbeat",
        "connection_timeout",
        "blocked_connection_timeout",
        "tls",
    )
    tls_table = table.table("tls")
    tls = parse_tls(tls_table) if tls_table is not None else None
    default_port = AMQPS_PORT if tls is not None else AMQP_PORT
    host_texts = table.string_list("hosts")
    if not host_texts:
        raise table.error("hosts", "must list at least one host")
    hosts = tuple(parse_host(text, default_port, table, i) for i, text in enumerate(host_texts))
    broker = BrokerConfig(
        hosts=hosts,
        username=table.string("username"),
        password=table.secret_file("password_file", "password"),
        vhost=table.string("vhost", "/"),
        heartbeat=table.integer("heartbeat", 30, minimum=0, maximum=65535),
        connection_timeout=table.number("connection_timeout", 10.0, positive=True),
        blocked_connection_timeout=table.number("blocked_connection_timeout", 60.0, positive=True),
        tls=tls,
    )
    table.finish()
    return broker


def parse_consumer(table: Table) -> ConsumerConfig:
    table.allow(
        "queue",
        "prefetch",
        "max_body_bytes",
        "retry_limit",
        "retry_exchange",
        "dead_letter_exchange",
        "shutdown_timeout",
    )
    consumer = ConsumerConfig(
        queue=table.string("queue"),
        retry_exchange=table.string("retry_exchange"),
        dead_letter_exchange=table.string("dead_letter_exchange"),
        prefetch=table.integer("prefetch", 100, minimum=1, maximum=65535),
        max_body_bytes=table.integer("max_body_bytes", 1024 * 1024, minimum=1),
        retry_limit=table.integer("retry_limit", 3, minimum=0),
        shutdown_timeout=table.number("shutdown_timeout", 60.0, positive=True),
    )
    table.finish()
    return consumer


def parse_handler(table: Table) -> HandlerConfig:
    table.allow("name", "options", "batch_size", "batch_max_wait")
    name = table.string("name")
    options = parse_handler_options(name, table.table_or_empty("options"))
    handler = HandlerConfig(
        name=name,
        options=options,
        batch_size=table.integer("batch_size", 100, minimum=1, maximum=65535),
        batch_max_wait=table.number("batch_max_wait", 0.05, minimum=0.0),
    )
    table.finish()
    return handler


def parse_metrics(table: Table) -> MetricsConfig:
    table.allow("address", "port")
    metrics = MetricsConfig(
        address=table.string("address", "127.0.0.1"),
        port=table.integer("port", 9101, minimum=0, maximum=65535),
    )
    table.finish()
    return metrics


def parse_reconnect(table: Table) -> ReconnectConfig:
    table.allow("initial_delay", "max_delay")
    reconnect = ReconnectConfig(
        initial_delay=table.number("initial_delay", 1.0, positive=True),
        max_delay=table.number("max_delay", 30.0, positive=True),
    )
    if reconnect.max_delay < reconnect.initial_delay:
        raise table.error(
            "max_delay",
            f"must be at least initial_delay ({reconnect.initial_delay}), "
            f"got {reconnect.max_delay}",
        )
    table.finish()
    return reconnect


def parse_worker_config(root: Table) -> WorkerConfig:
    root.allow("broker", "consumer", "handler", "metrics", "reconnect")
    config = WorkerConfig(
        broker=parse_broker(root.required_table("broker")),
        consumer=parse_consumer(root.required_table("consumer")),
        handler=parse_handler(root.required_table("handler")),
        metrics=parse_metrics(root.table_or_empty("metrics")),
        reconnect=parse_reconnect(root.table_or_empty("reconnect")),
    )
    root.finish()
    return config


def load_config(path: Path) -> WorkerConfig:
    """Load and validate the worker configuration; raise ConfigError naming the bad key."""
    return parse_worker_config(read_toml(path))


def load_broker_config(path: Path) -> BrokerConfig:
    """Load only the ``[broker]`` table of a worker configuration (for event-publish)."""
    return parse_broker(read_toml(path).required_table("broker"))
