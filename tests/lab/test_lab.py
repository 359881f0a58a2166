"""The lab, end to end, as a user runs it: up, up again, demo, the management UI in a real browser, down.

Before down, a worker host reached over ssh as on the VMs (a user with sudo, under Mitogen).

Slow (a full site.yml into a fresh container) and needs root, docker and
Debian's chromium: `make test-lab` runs it, and `make test` includes it.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABEL = "label=rabbitmq-kit-lab"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def lab(*args, timeout=1800):
    result = subprocess.run(
        [str(ROOT / "lab"), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode, result.stdout + result.stderr


def docker_list(kind):
    """IDs of the lab's containers, networks or volumes, stopped ones included."""
    command = ["docker", "ps", "-a"] if kind == "container" else ["docker", kind, "ls"]
    return subprocess.run(
        [*command, "-q", "--filter", LABEL], capture_output=True, text=True, check=True
    ).stdout.split()


@pytest.fixture(scope="module")
def running_lab():
    """The output of `./lab up` into a lab that exists already (`make test-lab` has just run the
    first `./lab up`; run alone, this makes one first)."""
    if not (ROOT / ".lab/inventory.ini").exists():
        code, out = lab("up")
        assert code == 0, out
    code, out = lab("up")
    assert code == 0, out
    yield out
    code, out = lab("down")
    assert code == 0, out


def test_up_ends_with_the_summary(running_lab):
    assert "Management UI   http://127.0.0.1:15672" in running_lab
    assert "Admin password  kept in .lab/admin-password" in running_lab
    assert (ROOT / ".lab/admin-password").read_text().strip() not in running_lab
    assert "event-worker@orders.service" in running_lab
    assert "| events                       | topic   |" in running_lab


def test_up_again_changes_nothing(running_lab):
    assert "the lab already exists: running site.yml into it again" in running_lab
    assert re.search(r"site.yml done in \d+ s \(ok=\d+ changed=0\)", running_lab), running_lab[-3000:]


def test_demo_shows_the_tutorials_worker_lines(running_lab):
    code, out = lab("demo")
    assert code == 0, out
    for line in [
        "[Worker] Received event: {'order_id': 123, 'event': 'order.created'}",
        "[Worker] Processing event type: order.created",
        "[Worker] Processing event type: order.updated",
        "[Worker] Event processed successfully",
        "[Worker] Processing WhatsApp notification",
        "[Worker] Recipient: +911234567890",
        "[Worker] Message: Hello from RabbitMQ",
        "[Worker] WhatsApp notification sent successfully",
    ]:
        assert line in out


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed (sudo make test-lab installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_management_ui_shows_the_topology_and_the_consumer(running_lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get("http://127.0.0.1:15672/")
    wait.until(seen.visibility_of_element_located((By.NAME, "username"))).send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys((ROOT / ".lab/admin-password").read_text().strip())
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(seen.presence_of_element_located((By.ID, "logout")))

    browser.get("http://127.0.0.1:15672/#/exchanges")
    wait.until(seen.presence_of_element_located((By.LINK_TEXT, "events")))

    browser.get("http://127.0.0.1:15672/#/queues")
    wait.until(seen.presence_of_element_located((By.LINK_TEXT, "order.events")))

    # The queue's own page: its consumer, the orders worker, is listed.
    browser.get("http://127.0.0.1:15672/#/queues/%2F/order.events")
    wait.until(seen.text_to_be_present_in_element((By.TAG_NAME, "body"), "Consumers (1)"))
    # Its dead-letter exchange, declared with it.
    assert "order.events.dlx" in browser.find_element(By.TAG_NAME, "body").text


SSH_HOST = "rabbitmq-lab-ssh"


def sh(*argv, timeout=600):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True).stdout


@pytest.fixture
def ssh_worker_host(running_lab, tmp_path):
    """A fresh Debian 13 host on the lab's network, reached the way the kit reaches a VM: ssh as a
    user (`kit`) whose sudo needs no password; the lab's broker stays on the docker connection."""
    subprocess.run(["docker", "rm", "-f", SSH_HOST], capture_output=True, check=False)
    sh(
        str(ROOT / "testbed/systemd-host"),
        SSH_HOST,
        "rabbitmq-kit/systemd:debian13",
        "--hostname",
        SSH_HOST,
        "--network",
        "rabbitmq-kit-lab",
    )
    key = tmp_path / "id_ed25519"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    setup = (
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server sudo >/dev/null"
        " && useradd --create-home --shell /bin/bash kit"
        " && echo 'kit ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/kit"
        " && install -d -m 700 -o kit -g kit /home/kit/.ssh"
        f" && echo '{key.with_suffix('.pub').read_text().strip()}' > /home/kit/.ssh/authorized_keys"
        " && chown kit:kit /home/kit/.ssh/authorized_keys && systemctl enable --now ssh"
    )
    sh("docker", "exec", SSH_HOST, "sh", "-c", setup)
    address = sh(
        "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", SSH_HOST
    ).strip()
    # Host key checking stays on, as it should against real VMs: the host's key is known
    # beforehand (under Mitogen an unknown key fails the run; there is no prompt).
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{address} {sh('docker', 'exec', SSH_HOST, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub')}")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[rabbitmq]\nrabbitmq-lab-1 ansible_connection=docker\n[workers]\n"
        f"{SSH_HOST} ansible_host={address} ansible_user=kit ansible_ssh_private_key_file={key}"
        f" ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts}'\n"
    )
    yield inventory
    subprocess.run(["docker", "rm", "-f", SSH_HOST], capture_output=True, check=False)


def kit_playbook(inventory, playbook, *args, env=None):
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "-e", "@.lab/secrets.yml", playbook, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


PARENT_PLAY = f"""
- name: Show what runs the modules
  hosts: {SSH_HOST}
  become: true
  gather_facts: false
  tasks:
    - name: The command's parent process and user
      ansible.builtin.shell: tr '\\0' ' ' </proc/$PPID/cmdline; echo; id -u
      changed_when: false
"""


def test_workers_over_ssh_with_sudo_under_mitogen(ssh_worker_host, tmp_path):
    """playbooks/workers.yml onto a host reached over ssh: the units run, a second run changes
    nothing, and the modules ran as root in a Mitogen interpreter (ansible.cfg's strategy)."""
    code, out = kit_playbook(ssh_worker_host, "playbooks/workers.yml")
    assert code == 0, out[-4000:]
    for unit in ("event-worker@orders.service", "event-worker@whatsapp.service"):
        state = subprocess.run(
            ["docker", "exec", SSH_HOST, "systemctl", "is-active", unit], capture_output=True, text=True, check=False
        ).stdout.strip()
        assert state == "active", unit

    code, out = kit_playbook(ssh_worker_host, "playbooks/workers.yml")
    assert code == 0, out[-4000:]
    assert re.search(rf"{SSH_HOST}\s*: ok=\d+\s+changed=0 ", out), out[-3000:]
    assert not re.search(r"changed=[1-9]", out), out[-3000:]

    play = tmp_path / "parent.yml"
    play.write_text(PARENT_PLAY)
    code, out = kit_playbook(
        ssh_worker_host, str(play), env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    )
    assert code == 0, out[-3000:]
    report, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    result = report["plays"][0]["tasks"][0]["hosts"][SSH_HOST]
    parent, uid = result["stdout_lines"]
    assert "(mitogen:" in parent, parent
    assert uid == "0"


def test_down_leaves_nothing_behind():
    code, out = lab("down")
    assert code == 0, out
    assert docker_list("container") == []
    assert docker_list("network") == []
    assert docker_list("volume") == []
    assert not (ROOT / ".lab").exists()
