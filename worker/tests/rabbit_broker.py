"""The worker tests' RabbitMQ node: the kit's private node (testbed/rabbitnode.py) with TLS.

Besides plain AMQP on 127.0.0.1, the node listens for AMQPS with a test CA's server certificate,
verifying client certificates when they are given (as the kit's TLS listener does).
"""

from __future__ import annotations

from pathlib import Path

from rabbitnode import RabbitNode

from tls_certs import make_certificates


class RabbitBroker(RabbitNode):
    """A private node with an AMQPS listener; ``certificates`` are the CA and client files."""

    def __init__(self, base_dir: Path) -> None:
        super().__init__(base_dir)
        self.certificates = make_certificates(base_dir / "tls")

    def config_lines(self) -> list[str]:
        certs = self.certificates
        return [
            *super().config_lines(),
            f"listeners.ssl.default = 127.0.0.1:{self.amqps_port}",
            f"ssl_options.cacertfile = {certs.ca}",
            f"ssl_options.certfile = {certs.server_cert}",
            f"ssl_options.keyfile = {certs.server_key}",
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = false",
        ]
