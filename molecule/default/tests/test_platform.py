"""The architecture the scenario runs on (the arm64 scenario expects aarch64)."""


def test_architecture_is_the_expected_one(host):
    expected = host.ansible.get_variables().get("molecule_expected_architecture", host.system_info.arch)
    assert host.check_output("uname -m") == expected
