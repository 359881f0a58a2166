"""The SUSE branch of the roles, on the SUSE-family test host.

Not SUSE: a Debian 13 container shaped like SLES 15 SP6 (testbed/suse-family/README.md
says what it models and from which source). The default scenario's tests run
against the same converged host; these check what is particular to SUSE.
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from kit_testing import PROJECT, ansible_env, wait_until

IMAGE = "rabbitmq-kit/suse-family:sles15sp6"
TESTBED = Path(os.environ.get("TESTBED_WORKDIR", "/var/tmp/rabbitmq-kit-testbed")) / "suse-family"
# The one definition of a systemd test host: testbed/systemd-host NAME IMAGE [docker run options ...]
SYSTEMD_HOST = PROJECT / "testbed" / "systemd-host"


def key_id(name):
    """The 8-hex-digit id rpm names a key by (gpg-pubkey-ID)."""
    return (TESTBED / "keys" / f"{name}.fpr").read_text().strip()[-8:].lower()


def payload_version(name):
    """A version the test bed built (out/versions.env: ERLVER, RMQVER, PYVER)."""
    pairs = (line.split("=", 1) for line in (TESTBED / "out" / "versions.env").read_text().split())
    return dict(pairs)[name]


def source(host):
    """The install source the scenario chose (group_vars: SUSE_FAMILY_SOURCE, or a literal)."""
    chosen = host.ansible.get_variables().get("rabbitmq_server_install_source", "auto")
    if "{{" in chosen:
        chosen = os.environ.get("SUSE_FAMILY_SOURCE", "auto")
    return "upstream_rpm" if chosen == "auto" else chosen


def test_the_host_is_sles_shaped_and_its_python3_stays_the_old_one(host):
    release = host.file("/etc/os-release").content_string
    assert 'ID="sles"' in release and 'VERSION_ID="15.6"' in release
    assert host.run("python3 -c pass").rc != 0
    assert host.check_output("python3 --version") == "Python 3.6.15"


def test_ansible_drives_the_host_with_python311_from_the_python3_module(host):
    assert host.check_output("rpm -qf --qf '%{NAME}' /usr/bin/python3.11") == "python311"
    assert host.check_output("rpm -q --qf '%{NAME}' python311-requests") == "python311-requests"
    assert host.run("python3.11 -c 'import requests'").rc == 0
    if "workers" not in host.ansible.get_variables()["group_names"]:
        return
    venv_python = host.check_output("readlink -f /opt/event-worker/venv/bin/python")
    assert venv_python == "/usr/bin/python3.11"


def test_the_broker_comes_from_the_chosen_source(host):
    packages = {
        "upstream_rpm": ["erlang", "rabbitmq-server"],
        "rpm_repository": ["erlang", "rabbitmq-server"],
        "package": ["erlang26", "erlang26-epmd", "rabbitmq-server313", "rabbitmq-server313-plugins"],
    }[source(host)]
    for name in packages:
        assert host.run(f"rpm -q {name}").rc == 0, name
    owner = host.check_output("rpm -qf --qf '%{NAME}' /usr/sbin/rabbitmqctl")
    assert owner == packages[-1].replace("-plugins", "")


def test_team_rabbitmqs_key_is_trusted_only_when_used(host):
    imported = host.run(f"rpm -q gpg-pubkey-{key_id('rabbitmq')}").rc == 0
    assert imported == (source(host) != "package")


def test_team_rabbitmqs_rpms_are_signed_by_its_key(host):
    if source(host) == "package":
        pytest.skip("the distribution-package source installs SUSE-signed packages")
    for name in ("erlang", "rabbitmq-server"):
        signature = host.check_output(f"rpm -q --qf '%{{RSAHEADER:pgpsig}}' {name}")
        assert key_id("rabbitmq") in signature.lower(), f"{name}: {signature}"


def test_zypper_keeps_gpg_checks_on(host):
    assert host.run("grep -Eq '^ *gpgcheck *= *(0|off|no)' /etc/zypp/zypp.conf").rc != 0
    for repo in host.check_output("ls /etc/zypp/repos.d").split():
        assert host.run(f"grep -Eq '^gpgcheck=0' /etc/zypp/repos.d/{repo}").rc != 0, repo


def docker(*args, check=True, text=True, **kwargs):
    return subprocess.run(["docker", *args], capture_output=True, text=text, check=check, timeout=600, **kwargs)


@pytest.fixture
def fresh_host(host):
    """A new SUSE-family host on the scenario's network, as a first run would find it.

    These tests run where the scenario installs from Team RabbitMQ's files, once per make test.
    """
    if source(host) != "upstream_rpm":
        pytest.skip("run in the suse-family scenario, which installs the release files")
    network = docker("inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}", "suse-repo")
    name = f"kit-suse-fresh-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [SYSTEMD_HOST, name, IMAGE, "--hostname", "sles-fresh", "--network", network.stdout.strip()],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    try:
        wait_until(
            lambda: (
                docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
                in ("running", "degraded")
            ),
            timeout=60,
            what=f"systemd in {name}",
        )
        yield name
    finally:
        docker("rm", "-f", name, check=False)


def broker_play(host, container, tmp_path, **overrides):
    """playbooks/broker.yml against the fresh host, with the scenario's variables and overrides."""
    wanted = {
        name: value
        for name, value in host.ansible.get_variables().items()
        if name.startswith(("rabbitmq_server_", "kit_testbed"))
    }
    inventory = {
        "rabbitmq": {"hosts": {container: {"ansible_connection": "docker"}}},
        "all": {"vars": {**wanted, "rabbitmq_server_firewalld": False, **overrides}},
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(path), str(PROJECT / "playbooks/broker.yml")],
        capture_output=True, text=True, env=ansible_env(), timeout=900, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def installed(container, *names):
    return [name for name in names if docker("exec", container, "rpm", "-q", name, check=False).returncode == 0]


def test_a_key_with_another_fingerprint_is_refused_before_anything_is_installed(host, fresh_host, tmp_path):
    wrong = (TESTBED / "keys" / "suse.fpr").read_text().strip()
    code, out = broker_play(host, fresh_host, tmp_path, rabbitmq_server_signing_key_fingerprint=wrong)
    assert code != 0
    assert "is not the expected key: its fingerprint is" in out, out[-3000:]
    assert f"the kit expects {wrong}" in out
    assert installed(fresh_host, "erlang", "rabbitmq-server", f"gpg-pubkey-{key_id('rabbitmq')}") == []


def test_an_rpm_without_a_good_signature_stops_the_run_before_zypper(host, fresh_host, tmp_path):
    version = payload_version("RMQVER")
    rpm = f"rabbitmq-server-{version}-1.el8.noarch.rpm"
    served = f"/srv/repo/github/rabbitmq/rabbitmq-server/releases/download/v{version}/{rpm}"
    body = bytearray(docker("exec", "suse-repo", "cat", served, text=False).stdout)
    body[-100] ^= 0xFF  # one flipped bit in the payload
    (tmp_path / rpm).write_bytes(body)
    docker("exec", fresh_host, "mkdir", "-p", "/srv/tampered")
    docker("cp", str(tmp_path / rpm), f"{fresh_host}:/srv/tampered/{rpm}")
    code, out = broker_play(host, fresh_host, tmp_path, rabbitmq_server_upstream_rpm_url=f"file:///srv/tampered/{rpm}")
    assert code != 0
    assert f"{rpm} carries no valid signature by Team RabbitMQ's key" in out, out[-3000:]
    assert "set rabbitmq_server_upstream_rpm_checksum to its sha256" in out
    assert installed(fresh_host, "erlang", "rabbitmq-server") == []


def test_python311_without_a_provider_names_the_module_and_the_command(fresh_host):
    script = (PROJECT / "roles/python_bootstrap/files/find-python.sh").read_text()
    docker("exec", fresh_host, "zypper", "--non-interactive", "modifyrepo", "--disable", "sle-python3-module-15-sp6")
    result = docker("exec", "-i", fresh_host, "sh", "-s", input=script, check=False)
    assert result.returncode == 5, result.stderr
    assert "python311 has no provider: the Python 3 module" in result.stderr
    assert f"SUSEConnect -p sle-module-python3/15.6/{os.uname().machine}" in result.stderr
    assert installed(fresh_host, "python311") == []
