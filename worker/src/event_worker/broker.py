"""Connection parameters for the broker: hosts, credentials, TLS, timeouts."""

from __future__ import annotations

import os
import socket
import ssl

import pika

from event_worker import __version__
from event_worker.config import BrokerConfig, HostPort


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    """A verifying TLS client context (the server certificate is always checked)."""
    if broker.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(broker.tls.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if broker.tls.cert_file is not None:
        context.load_cert_chain(
            str(broker.tls.cert_file),
            str(broker.tls.key_file) if broker.tls.key_file is not None else None,
        )
    return context


def connection_parameters(
    broker: BrokerConfig,
    host: HostPort,
    *,
    program: str,
    detail: str = "",
    blocked_connection_timeout: float | None = None,
) -> pika.ConnectionParameters:
    """Parameters for one connection attempt to ``host``."""
    ssl_options = None
    context = tls_context(broker)
    if context is not None and broker.tls is not None:
        ssl_options = pika.SSLOptions(context, broker.tls.server_hostname or host.host)
    name = f"{program} {detail} ({socket.gethostname()} pid {os.getpid()})".replace("  ", " ")
    return pika.ConnectionParameters(
        host=host.host,
        port=host.port,
        virtual_host=broker.vhost,
        credentials=pika.PlainCredentials(broker.username, broker.password, erase_on_connect=False),
        heartbeat=broker.heartbeat,
        blocked_connection_timeout=blocked_connection_timeout,
        connection_attempts=1,
        socket_timeout=broker.connection_timeout,
        stack_timeout=broker.connection_timeout,
        ssl_options=ssl_options,
        client_properties={
            "connection_name": name,
            "product": program,
            "version": __version__,
        },
    )


def describe_target(broker: BrokerConfig, host: HostPort) -> str:
    scheme = "amqps" if broker.tls is not None else "amqp"
    return f"{scheme}://{broker.username}@{host}/{broker.vhost.replace('/', '%2F')}"
