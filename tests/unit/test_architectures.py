"""The rabbitmq_server role picks the right artifact for each architecture.

Renders the role's own variables (defaults/main.yml and vars/main.yml) with
Ansible's templating, for an aarch64 and an x86_64 host, as the tasks use them.
"""

from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[2] / "roles/rabbitmq_server"
CHECKSUMS = {"aarch64": "a" * 64, "x86_64": "b" * 64}


def render(architecture, expression):
    loader = DataLoader()
    variables = {
        **loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
        **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
        "role_path": str(ROLE),
        "inventory_hostname": "rabbit-1",
        "groups": {"rabbitmq": ["rabbit-1"]},
        "ansible_facts": {"architecture": architecture, "hostname": "rabbit-1"},
        "rabbitmq_server_upstream_erlang_rpm_checksums": CHECKSUMS,
        "rabbitmq_server_rabbitmqadmin_v2_checksums": CHECKSUMS,
    }
    return Templar(loader=loader, variables=variables).template(trust_as_template(expression))


@pytest.mark.parametrize(("architecture", "rpm_arch"), [("aarch64", "aarch64"), ("x86_64", "x86_64")])
def test_erlang_rpm_matches_the_architecture(architecture, rpm_arch):
    picked = render(architecture, "{{ __rabbitmq_server_erlang_rpm }}")
    assert picked["url"] == (
        f"https://github.com/rabbitmq/erlang-rpm/releases/download/v26.2.5/erlang-26.2.5-1.el8.{rpm_arch}.rpm"
    )
    assert picked["checksum"] == CHECKSUMS[architecture]


def test_rabbitmq_rpm_is_noarch_4_2_0():
    assert render("aarch64", "{{ rabbitmq_server_upstream_rpm_url }}") == (
        "https://github.com/rabbitmq/rabbitmq-server/releases/download/v4.2.0/rabbitmq-server-4.2.0-1.el8.noarch.rpm"
    )


@pytest.mark.parametrize("architecture", ["aarch64", "x86_64"])
def test_rabbitmqadmin_v2_binary_matches_the_architecture(architecture):
    picked = render(architecture, "{{ __rabbitmq_server_rabbitmqadmin_v2 }}")
    assert picked["url"].endswith(f"-{architecture}-unknown-linux-gnu")
    assert f"rabbitmqadmin-{render(architecture, '{{ rabbitmq_server_rabbitmqadmin_v2_version }}')}-" in picked["url"]
    assert picked["checksum"] == CHECKSUMS[architecture]


def test_an_unknown_architecture_picks_nothing():
    picked = render("riscv64", "{{ __rabbitmq_server_erlang_rpm }}")
    assert picked == {"url": "", "checksum": ""}
