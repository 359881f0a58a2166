"""The systemd notification protocol (sd_notify(3)) over NOTIFY_SOCKET, without libsystemd."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

LOG = logging.getLogger(__name__)


def socket_address(value: str) -> str | bytes | None:
    """Map NOTIFY_SOCKET to a sendto() address; '@' starts a Linux abstract socket name."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock and other schemes are not supported


class Notifier:
    """Sends READY=1, STATUS=..., WATCHDOG=1 and STOPPING=1; a no-op without NOTIFY_SOCKET."""

    def __init__(self, address: str | bytes | None, watchdog_interval: float | None = None) -> None:
        self._address = address
        self._socket: socket.socket | None = None
        self._warned = False
        self.watchdog_interval = watchdog_interval
        """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = socket_address(env.get("NOTIFY_SOCKET", ""))
        return cls(address, watchdog_interval(env) if address is not None else None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        if self._address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(message, self._address)
        except OSError as exc:
            if not self._warned:
                LOG.warning("cannot notify systemd via NOTIFY_SOCKET: %s", exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self.notify("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC, if the watchdog is meant for this process."""
    usec_text = environ.get("WATCHDOG_USEC", "")
    if not usec_text.isdigit() or int(usec_text) == 0:
        return None
    pid_text = environ.get("WATCHDOG_PID", "")
    if pid_text and pid_text != str(os.getpid()):
        return None
    return int(usec_text) / 1_000_000 / 2
