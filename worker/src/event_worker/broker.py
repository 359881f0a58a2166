"""Connection parameters for the broker: hosts, credentials, TLS, timeouts."""

from __future__ import annotations

import os
import socket
import ssl

import pika
import pika.exceptions
from pika.adapters.utils import connection_workflow

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


def _unwrap(error: BaseException) -> BaseException:
    """Dig the root cause out of pika's connection-workflow wrappers."""
    for _ in range(10):
        if isinstance(error, connection_workflow.AMQPConnectionWorkflowFailed) and error.exceptions:
            error = error.exceptions[-1]
        elif isinstance(error, connection_workflow.AMQPConnectorPhaseErrorBase):
            error = error.exception
        elif (
            type(error) is pika.exceptions.AMQPConnectionError
            and error.args
            and isinstance(error.args[0], BaseException)
        ):
            error = error.args[0]
        else:
            break
    return error


def describe_amqp_error(error: BaseException | None) -> str:
    """One readable line for a connection or channel failure (never includes the password)."""
    if error is None:
        return "closed"
    error = _unwrap(error)
    if isinstance(error, pika.exceptions.ConnectionBlockedTimeout):
        return "the broker kept the connection blocked too long"
    if isinstance(error, pika.exceptions.ChannelClosedByBroker | pika.exceptions.ConnectionClosed):
        return f"{error.reply_text} ({error.reply_code})"
    if isinstance(
        error,
        pika.exceptions.ProbableAuthenticationError | pika.exceptions.AuthenticationError,
    ):
        return "login refused: check the username and password"
    if isinstance(error, pika.exceptions.ProbableAccessDeniedError):
        return "access refused: check that the vhost exists and the user may use it"
    if isinstance(error, connection_workflow.AMQPConnectorStackTimeout):
        return "connection attempt timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name: {error.strerror}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error}"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
