"""No global privilege escalation: each play says whether it needs root.

With `become = true` in ansible.cfg every `delegate_to: localhost` task tried sudo on the
controller, and a play from another project that uses the roles inherited nothing.
"""

import configparser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [ROOT / "site.yml", *(ROOT / "playbooks").glob("*.yml"), *(ROOT / "molecule").glob("*/*.yml")]
PLAYBOOKS = sorted(path for path in CANDIDATES if isinstance(yaml.safe_load(path.read_text()), list))


def test_ansible_cfg_does_not_turn_become_on():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    assert not config.has_option("privilege_escalation", "become")


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_play_states_become(path):
    documents = yaml.safe_load(path.read_text())
    plays = [play for play in documents if isinstance(play, dict) and "hosts" in play]
    missing = [play.get("name", play["hosts"]) for play in plays if "become" not in play]
    assert missing == [], f"{path.name}: plays without become: {missing}"
