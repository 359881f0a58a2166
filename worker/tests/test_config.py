"""Configuration loading and validation (no broker needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from event_worker.config import HostPort, load_broker_config, load_config
from event_worker.errors import ConfigError
from event_worker.handlers.orders import OrdersOptions
from event_worker.handlers.whatsapp import WhatsAppOptions
from support import EVENT_WORKER, child_env


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    (tmp_path / "orders.password").write_text("s3cret-pw\n")
    (tmp_path / "ca.pem").write_text("not parsed at load time\n")
    (tmp_path / "whatsapp.token").write_text("tok-123\n")
    return tmp_path


def minimal(secrets: Path) -> str:
    return f"""
[broker]
hosts = ["rabbit1"]
username = "orders"
password_file = "{secrets}/orders.password"

[consumer]
queue = "order.events"
retry_exchange = "order.events.retry"
dead_letter_exchange = "order.events.dlx"

[handler]
name = "orders"
"""


def full(secrets: Path) -> str:
    return f"""
[broker]
hosts = ["rabbit1:5672", "rabbit2:5673"]
vhost = "/"
username = "orders"
password_file = "{secrets}/orders.password"
heartbeat = 30
connection_timeout = 10
blocked_connection_timeout = 60

[broker.tls]
ca_file = "{secrets}/ca.pem"
server_hostname = "rabbit.example.com"

[consumer]
queue = "order.events"
prefetch = 32
max_body_bytes = 1048576
retry_limit = 3
retry_exchange = "order.events.retry"
dead_letter_exchange = "order.events.dlx"
shutdown_timeout = 60

[handler]
name = "orders"
[handler.options]
work_seconds = 2.0

[metrics]
address = "127.0.0.1"
port = 9101

[reconnect]
initial_delay = 1.0
max_delay = 30.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "worker.toml"
    path.write_text(text)
    return path


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path, secrets: Path) -> None:
    config = load_config(write(tmp_path, minimal(secrets)))
    broker = config.broker
    assert broker.hosts == (HostPort("rabbit1", 5672),)
    assert broker.vhost == "/"
    assert broker.password == "s3cret-pw", "trailing newline stripped"
    assert (broker.heartbeat, broker.connection_timeout, broker.blocked_connection_timeout) == (
        30,
        10.0,
        60.0,
    )
    assert broker.tls is None
    consumer = config.consumer
    assert (consumer.prefetch, consumer.max_body_bytes, consumer.retry_limit) == (100, 1048576, 3)
    assert consumer.shutdown_timeout == 60.0
    assert config.handler.name == "orders"
    assert config.handler.options == OrdersOptions(work_seconds=2.0)
    assert (config.metrics.address, config.metrics.port) == ("127.0.0.1", 9101)
    assert (config.reconnect.initial_delay, config.reconnect.max_delay) == (1.0, 30.0)


def test_full_config_from_the_deploy_role(tmp_path: Path, secrets: Path) -> None:
    config = load_config(write(tmp_path, full(secrets)))
    assert config.broker.hosts == (HostPort("rabbit1", 5672), HostPort("rabbit2", 5673))
    assert config.broker.tls is not None
    assert config.broker.tls.ca_file == secrets / "ca.pem"
    assert config.broker.tls.server_hostname == "rabbit.example.com"
    assert config.broker.tls.cert_file is None


def test_tls_changes_the_default_port_and_ipv6_hosts_parse(tmp_path: Path, secrets: Path) -> None:
    text = full(secrets).replace(
        'hosts = ["rabbit1:5672", "rabbit2:5673"]', 'hosts = ["rabbit1", "[::1]", "[fe80::1]:6000"]'
    )
    config = load_config(write(tmp_path, text))
    assert config.broker.hosts == (
        HostPort("rabbit1", 5671),
        HostPort("::1", 5671),
        HostPort("fe80::1", 6000),
    )
    assert str(config.broker.hosts[1]) == "[::1]:5671"


def test_the_password_never_shows_in_repr(tmp_path: Path, secrets: Path) -> None:
    config = load_config(write(tmp_path, minimal(secrets)))
    assert "s3cret-pw" not in repr(config)


def test_the_publisher_reads_only_the_broker_table(tmp_path: Path, secrets: Path) -> None:
    text = minimal(secrets) + "\n[anything]\nwhatever = 1\n"
    broker = load_broker_config(write(tmp_path, text))
    assert broker.username == "orders"


def test_whatsapp_http_options(tmp_path: Path, secrets: Path) -> None:
    text = minimal(secrets).replace('\nname = "orders"', '\nname = "whatsapp"') + (
        "[handler.options]\n"
        'sender = "http"\n'
        'api_url = "https://graph.facebook.com/v21.0/123/messages"\n'
        f'token_file = "{secrets}/whatsapp.token"\n'
        "timeout = 5\n"
    )
    options = load_config(write(tmp_path, text)).handler.options
    assert isinstance(options, WhatsAppOptions)
    assert options.token == "tok-123"
    assert options.timeout == 5.0
    assert "tok-123" not in repr(options)


BAD: list[tuple[str, str, str, str]] = [
    # (description, text to replace, replacement, expected message)
    ("unknown table", "[handler]", "[handlr]", "handlr: unknown key (did you mean 'handler'?)"),
    (
        "misspelt key",
        'queue = "order.events"',
        'queue = "order.events"\nprefetc = 3',
        "consumer.prefetc: unknown key (did you mean 'consumer.prefetch'?)",
    ),
    (
        "password given inline",
        'username = "orders"',
        'username = "orders"\npassword = "guest"',
        "broker.password: unknown key (did you mean 'broker.password_file'?)",
    ),
    (
        "unknown handler option",
        '[handler]\nname = "orders"',
        '[handler]\nname = "orders"\n[handler.options]\nwork_second = 1.0',
        "handler.options.work_second: unknown key (did you mean 'handler.options.work_seconds'?)",
    ),
    (
        "string for integer",
        'queue = "order.events"',
        'queue = "order.events"\nprefetch = "32"',
        "consumer.prefetch: expected an integer, got string '32'",
    ),
    (
        "boolean for integer",
        'queue = "order.events"',
        'queue = "order.events"\nretry_limit = true',
        "consumer.retry_limit: expected an integer, got boolean true",
    ),
    (
        "float for integer",
        'username = "orders"',
        'username = "orders"\nheartbeat = 1.5',
        "broker.heartbeat: expected an integer, got float 1.5",
    ),
    (
        "string for number",
        '[handler]\nname = "orders"',
        '[handler]\nname = "orders"\n[handler.options]\nwork_seconds = "2"',
        "handler.options.work_seconds: expected a number, got string '2'",
    ),
    (
        "hosts not a list",
        'hosts = ["rabbit1"]',
        'hosts = "rabbit1"',
        "broker.hosts: expected an array",
    ),
    ("empty hosts", 'hosts = ["rabbit1"]', "hosts = []", "broker.hosts: must list at least one"),
    (
        "bad port",
        'hosts = ["rabbit1"]',
        'hosts = ["rabbit1:http"]',
        "broker.hosts[0]: invalid port",
    ),
    (
        "out of range",
        'queue = "order.events"',
        'queue = "order.events"\nprefetch = 0',
        "consumer.prefetch: must be at least 1, got 0",
    ),
    ("missing key", 'queue = "order.events"', "", "consumer.queue: required key is missing"),
    (
        "missing exchange",
        'retry_exchange = "order.events.retry"',
        "",
        "consumer.retry_exchange: required key is missing",
    ),
    ("missing table", '[handler]\nname = "orders"', "", "handler: required table is missing"),
    (
        "unknown handler",
        '[handler]\nname = "orders"',
        '[handler]\nname = "email"',
        "handler.name: unknown handler 'email': built-in handlers are noop, orders, whatsapp",
    ),
    (
        "password file missing",
        "orders.password",
        "nope.password",
        "broker.password_file: file",
    ),
    (
        "relative password file",
        'password_file = "',
        'password_file = "relative/',
        "broker.password_file: must be an absolute path",
    ),
    (
        "metrics port",
        '[handler]\nname = "orders"',
        '[handler]\nname = "orders"\n[metrics]\nport = 70000',
        "metrics.port: must be at most 65535, got 70000",
    ),
    (
        "backoff order",
        '[handler]\nname = "orders"',
        '[handler]\nname = "orders"\n[reconnect]\ninitial_delay = 5\nmax_delay = 1',
        "reconnect.max_delay: must be at least initial_delay (5.0), got 1.0",
    ),
    (
        "http-only option with the log sender",
        '[handler]\nname = "orders"',
        '[handler]\nname = "whatsapp"\n[handler.options]\napi_url = "https://x/y"',
        'handler.options.api_url: is only valid with sender = "http"',
    ),
    (
        "http sender without token",
        '[handler]\nname = "orders"',
        '[handler]\nname = "whatsapp"\n[handler.options]\nsender = "http"\napi_url = "https://x/y"',
        "handler.options.token_file: required key is missing",
    ),
    (
        "http sender with a non-http URL",
        '[handler]\nname = "orders"',
        '[handler]\nname = "whatsapp"\n[handler.options]\nsender = "http"\napi_url = "file:///etc/passwd"',
        "handler.options.api_url: expected an http(s) URL",
    ),
    (
        "noop takes no options",
        '[handler]\nname = "orders"',
        '[handler]\nname = "noop"\n[handler.options]\nx = 1',
        "handler.options.x: unknown key",
    ),
    ("not TOML", "[broker]", "[broker", "is not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_config_names_the_bad_key(
    tmp_path: Path, secrets: Path, old: str, new: str, message: str
) -> None:
    text = minimal(secrets)
    assert old in text
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text.replace(old, new, 1)))
    assert message in str(caught.value)


def test_unknown_key_in_the_tls_table(tmp_path: Path, secrets: Path) -> None:
    text = full(secrets).replace('server_hostname = "', 'insecure = true\nserver_hostname = "')
    with pytest.raises(ConfigError, match=r"^broker\.tls\.insecure: unknown key"):
        load_config(write(tmp_path, text))


def test_empty_password_file_is_rejected(tmp_path: Path, secrets: Path) -> None:
    (secrets / "orders.password").write_text("\n")
    with pytest.raises(ConfigError, match=r"broker\.password_file: password file .* is empty"):
        load_config(write(tmp_path, minimal(secrets)))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENT_WORKER), "--check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
        check=False,
    )


def test_check_config_exits_0_for_a_valid_file(tmp_path: Path, secrets: Path) -> None:
    result = run_check(write(tmp_path, full(secrets)))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_check_config_exits_2_and_names_the_key(tmp_path: Path, secrets: Path) -> None:
    text = minimal(secrets).replace(
        'queue = "order.events"', 'queue = "order.events"\nprefetch = "x"'
    )
    result = run_check(write(tmp_path, text))
    assert result.returncode == 2
    assert "consumer.prefetch: expected an integer" in result.stderr
    assert result.stdout == ""
