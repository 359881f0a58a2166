"""The lab, end to end, as a user runs it: up, up again, demo, the management UI in a real browser, down.

Slow (a full site.yml into a fresh container) and needs root, docker and
Debian's chromium: `make test-lab` runs it, and `make test` includes it.
"""

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


def test_down_leaves_nothing_behind():
    code, out = lab("down")
    assert code == 0, out
    assert docker_list("container") == []
    assert docker_list("network") == []
    assert docker_list("volume") == []
    assert not (ROOT / ".lab").exists()
