"""Pipelining is on wherever the kit runs Ansible: one round trip per module, not four.

The docker connection (the lab, molecule) has no option of its own and reads the global
ANSIBLE_PIPELINING, which ansible.cfg sets only from [defaults] or [connection]: under
[ssh_connection], where the kit had it, only ssh saw it. Molecule writes its own ansible.cfg,
so its scenarios take the setting from the shared base config.
"""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_CONFIG_BIN = Path(sys.executable).parent / "ansible-config"


def test_the_kits_ansible_cfg_turns_on_the_global_pipelining_setting():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    env.pop("ANSIBLE_PIPELINING", None)
    dump = subprocess.run(
        [str(ANSIBLE_CONFIG_BIN), "dump", "--only-changed"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"ANSIBLE_PIPELINING({ROOT / 'ansible.cfg'}) = True" in dump


def test_every_molecule_scenario_inherits_pipelining():
    base = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    assert base["provisioner"]["config_options"]["defaults"]["pipelining"] is True
    for scenario in (ROOT / "molecule").glob("*/molecule.yml"):
        options = yaml.safe_load(scenario.read_text()).get("provisioner", {}).get("config_options", {})
        assert "pipelining" not in options.get("defaults", {}), f"{scenario} overrides pipelining"
