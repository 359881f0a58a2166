"""The rabbitmq_server role picks the right source and artifacts for each platform.

Renders the role's own variables (defaults/main.yml and vars/main.yml) with
Ansible's templating, for an aarch64 and an x86_64 host, as the tasks use them.
"""

from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[2] / "roles/rabbitmq_server"
CHECKSUMS = {"aarch64": "a" * 64, "x86_64": "b" * 64}


def render(architecture, expression, os_family="Suse", **extra):
    loader = DataLoader()
    variables = {
        **loader.load_from_file(str(ROLE / "defaults/main.yml"), trusted_as_template=True),
        **loader.load_from_file(str(ROLE / "vars/main.yml"), trusted_as_template=True),
        "role_path": str(ROLE),
        "inventory_hostname": "rabbit-1",
        "groups": {"rabbitmq": ["rabbit-1"]},
        "ansible_facts": {"architecture": architecture, "hostname": "rabbit-1", "os_family": os_family},
        "rabbitmq_server_upstream_erlang_rpm_checksums": CHECKSUMS,
        "rabbitmq_server_rabbitmqadmin_v2_checksums": CHECKSUMS,
        **extra,
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
    assert (picked["url"], picked["checksum"]) == ("", "")


@pytest.mark.parametrize(("os_family", "source"), [("Suse", "upstream_rpm"), ("Debian", "package")])
def test_auto_source_is_the_tutorials_rpms_on_suse_and_packages_on_debian(os_family, source):
    assert render("aarch64", "{{ __rabbitmq_server_source }}", os_family) == source


@pytest.mark.parametrize(
    ("os_family", "packages"),
    [("Suse", ["rabbitmq-server313", "rabbitmq-server313-plugins"]), ("Debian", ["rabbitmq-server"])],
)
def test_distribution_packages_default_per_os_family(os_family, packages):
    assert render("aarch64", "{{ __rabbitmq_server_package_names }}", os_family) == packages


def test_upstream_rpms_install_erlang_first_and_name_their_checksum_variables():
    rpms = render("aarch64", "{{ __rabbitmq_server_upstream_rpms }}")
    assert [rpm["url"].rsplit("/", 1)[1] for rpm in rpms] == [
        "erlang-26.2.5-1.el8.aarch64.rpm",
        "rabbitmq-server-4.2.0-1.el8.noarch.rpm",
    ]
    assert [rpm["variable"] for rpm in rpms] == [
        "rabbitmq_server_upstream_erlang_rpm_checksums['aarch64']",
        "rabbitmq_server_upstream_rpm_checksum",
    ]


def test_a_mirror_base_url_moves_every_release_file():
    rpms = render("x86_64", "{{ __rabbitmq_server_upstream_rpms }}", rabbitmq_server_upstream_base_url="http://mirror")
    assert all(rpm["url"].startswith("http://mirror/rabbitmq/") for rpm in rpms)


def test_the_release_key_is_checked_by_its_whole_fingerprint():
    keys = render("aarch64", "{{ __rabbitmq_server_signing_keys }}")
    assert keys == [
        {
            "name": "rabbitmq-release",
            "key_url": "https://github.com/rabbitmq/signing-keys/releases/download/3.0/rabbitmq-release-signing-key.asc",
            "key_id": "0A9AF2115F4687BD29803A206B73A36E6026DFCA",
        }
    ]
    assert render("aarch64", "{{ __rabbitmq_server_signed_ok }}") == "key ID 6026dfca: OK"


def test_the_repository_source_adds_the_metadata_keys():
    keys = render("x86_64", "{{ __rabbitmq_server_signing_keys }}", rabbitmq_server_install_source="rpm_repository")
    assert [(key["name"], key["key_id"]) for key in keys] == [
        ("rabbitmq-release", "0A9AF2115F4687BD29803A206B73A36E6026DFCA"),
        ("rabbitmq-erlang", "E495BB49CC4BBE5B"),
        ("rabbitmq-server", "9F4587F226208342"),
    ]


def test_the_node_name_is_rabbit_at_the_short_hostname_and_every_ctl_call_names_it():
    assert render("aarch64", "{{ __rabbitmq_server_node }}") == "rabbit@rabbit-1"
    assert render("aarch64", "{{ __rabbitmq_server_node }}", rabbitmq_server_nodename="rabbit@mq") == "rabbit@mq"
    assert render("aarch64", "{{ __rabbitmq_server_ctl }}") == "rabbitmqctl -n rabbit@rabbit-1"
