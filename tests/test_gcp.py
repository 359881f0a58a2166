"""playbooks/provision-gcp.yml and destroy-gcp.yml (role gcp_vm), offline.

Nothing here reaches Google: every run gets proxies that point at a closed loopback
port (or at a recording proxy on loopback), so an unexpected call would fail on this
machine instead of leaving it. What is checked:

- bad or missing variables stop the play before the first task that calls Google,
  naming the variable;
- render mode (gcp_vm_render_only=true) writes the arguments of every module call; those
  are checked, then fed to the google.cloud modules' own code, which must accept them and
  yields the REST bodies it would send (cut off before any network access) and, against
  the resources as the API describes them, finds nothing to update on a second run;
- a real run against stand-in google.cloud modules sends exactly the rendered arguments,
  reads the external IP and writes the inventory for site.yml (read by ansible-inventory);
  destroy deletes in order and removes the inventory;
- with valid variables and the real modules, the first network access is to Google's
  token endpoint, from the first cloud task (a loopback proxy records it and refuses).

Not covered: anything Google itself would say (quota, zone capacity, image access, IAM).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic
from conftest import run_playbook_once

ROOT = Path(__file__).resolve().parents[1]
PROVISION = "playbooks/provision-gcp.yml"
DESTROY = "playbooks/destroy-gcp.yml"
PROJECT = "rabbitmq-kit-test"
NETWORK = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/default"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNhdGFsb2d1ZS1vbmx5LWZha2Uta2V5LWZvci10ZXN0cw test@kit"
# Tasks that call Google. None of them may start when a variable is wrong.
CLOUD_TASKS = (
    "Create the firewall rules",
    "Create the VM",
    "Wait for the VM's external IP",
    "Delete the VM and its boot disk",
    "Delete the firewall rules",
)
# A closed port on loopback: any HTTP(S) request that slips through fails here.
DEAD_PROXY = "http://127.0.0.1:9"


def offline_env(scratch: Path, proxy: str = DEAD_PROXY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("GCP_", "GOOGLE_", "CLOUDSDK_"))}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        http_proxy=proxy,
        https_proxy=proxy,
        NO_PROXY="",
        no_proxy="",
        # google-auth's metadata-server probe does not use the proxy variables.
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
        CLOUDSDK_CONFIG=str(scratch / "gcloud"),
    )
    return env


def run(inventory, scratch, playbook, *args, env=None):
    return run_playbook_once(inventory, playbook, *args, env=env or offline_env(scratch))


def extra(variables: dict) -> list[str]:
    return ["-e", json.dumps(variables)]


def flat(text: str) -> str:
    """The output with line wrapping undone (the callback wraps long messages)."""
    return " ".join(text.split())


def good_variables(scratch: Path) -> dict:
    """Valid variables for a real (not render) run; every file stays in scratch."""
    key = scratch / "id_ed25519.pub"
    key.write_text(PUBLIC_KEY + "\n")
    return {
        "gcp_vm_project": PROJECT,
        "gcp_vm_source_ranges": ["203.0.113.7/32"],
        "gcp_vm_ssh_public_key_file": str(key),
        "gcp_vm_inventory_path": str(scratch / "inventory-gcp.ini"),
        "gcp_vm_render_dir": str(scratch / "render"),
    }


def render_plan(inventory, scratch, playbook=PROVISION, **overrides):
    """Run a playbook in render mode; return the plan it wrote, as (module, args) pairs, and the output."""
    variables = {**good_variables(scratch), "gcp_vm_render_only": True, **overrides}
    code, out = run(inventory, scratch, playbook, *extra(variables))
    assert code == 0, out
    assert not any(f"TASK [gcp_vm : {task}]" in out for task in CLOUD_TASKS), out
    plan_file = "provision.json" if playbook == PROVISION else "destroy.json"
    plan = json.loads((scratch / "render" / plan_file).read_text())
    return [(step["module"], step["args"]) for step in plan], out


@pytest.fixture
def good(tmp_path):
    return good_variables(tmp_path)


@pytest.fixture
def render(nowhere_inventory, tmp_path):
    def go(playbook=PROVISION, **overrides):
        return render_plan(nowhere_inventory, tmp_path, playbook, **overrides)

    return go


@pytest.fixture(scope="module")
def default_render(nowhere_inventory, tmp_path_factory):
    """One render-mode provisioning run with the defaults, shared by the tests that only read it."""
    scratch = tmp_path_factory.mktemp("gcp-default")
    plan, out = render_plan(nowhere_inventory, scratch)
    return plan, out, scratch


def assert_stopped_before_google(code, out):
    assert code != 0, out
    assert not any(f"TASK [gcp_vm : {task}]" in out for task in CLOUD_TASKS), out


# --- Syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize("playbook", [PROVISION, DESTROY])
def test_syntax_check(nowhere_inventory, tmp_path, playbook):
    code, out = run(nowhere_inventory, tmp_path, playbook, "--syntax-check")
    assert code == 0, out


# --- Variables: the play stops before Google, naming the variable -----------------------


@pytest.mark.parametrize("variable", ["gcp_vm_source_ranges", "gcp_vm_project"])
def test_missing_required_variable_stops_before_google(nowhere_inventory, tmp_path, good, variable):
    del good[variable]
    code, out = run(nowhere_inventory, tmp_path, PROVISION, *extra(good))
    assert_stopped_before_google(code, out)
    assert f"missing required arguments: {variable}" in out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"gcp_vm_source_ranges": ["0.0.0.0/0"]},
            "gcp_vm_source_ranges: 0.0.0.0/0 lets the whole Internet reach the management UI. Give your own address",
        ),
        ({"gcp_vm_machine_type": "C4A standard 4"}, "gcp_vm_machine_type must be a machine type name such as"),
        ({"gcp_vm_boot_disk_type": "pd-balanced"}, "gcp_vm_boot_disk_type: c4a-standard-4 takes Hyperdisk only"),
        ({"gcp_vm_auth_kind": "serviceaccount"}, "gcp_vm_auth_kind=serviceaccount needs gcp_vm_service_account_file"),
        ({"gcp_vm_auth_kind": "oauth"}, "value of gcp_vm_auth_kind must be one of: application, serviceaccount"),
        ({"gcp_vm_boot_disk_size_gb": "big"}, "gcp_vm_boot_disk_size_gb"),
    ],
)
def test_bad_variable_stops_before_google(nowhere_inventory, tmp_path, good, overrides, message):
    code, out = run(nowhere_inventory, tmp_path, PROVISION, *extra({**good, **overrides}))
    assert_stopped_before_google(code, out)
    assert message in flat(out)
    assert not (tmp_path / "inventory-gcp.ini").exists()


def test_every_problem_is_reported_at_once(nowhere_inventory, tmp_path, good):
    bad = {
        "gcp_vm_project": "My_Project",
        "gcp_vm_zone": "us-central1",
        "gcp_vm_source_ranges": "203.0.113.7/24",
        "gcp_vm_ssh_public_key_file": "/nonexistent/id.pub",
    }
    code, out = run(nowhere_inventory, tmp_path, PROVISION, *extra({**good, **bad}))
    assert_stopped_before_google(code, out)
    for variable in bad:
        assert f"- {variable}" in flat(out).replace("- '", "- ")


def test_check_mode_is_refused_with_a_pointer_to_render_mode(nowhere_inventory, tmp_path, good):
    code, out = run(nowhere_inventory, tmp_path, PROVISION, "--check", *extra(good))
    assert_stopped_before_google(code, out)
    assert "Run with -e gcp_vm_render_only=true" in flat(out)


def _filters():
    spec = importlib.util.spec_from_file_location("gcp_vm_filters", ROOT / "plugins/filter/gcp_vm.py")
    filters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filters)
    return filters


def role_defaults() -> dict:
    return yaml.safe_load((ROOT / "roles/gcp_vm/defaults/main.yml").read_text())


@pytest.fixture
def checked(tmp_path):
    """The role's variable check (filter gcp_vm_problems) on the defaults plus valid required values."""
    key = tmp_path / "id.pub"
    key.write_text(PUBLIC_KEY)
    base = {
        **role_defaults(),
        "gcp_vm_project": PROJECT,
        "gcp_vm_source_ranges": ["203.0.113.7/32"],
        "gcp_vm_ssh_public_key_file": str(key),
        "ansible_check_mode": False,
    }
    problems = _filters().gcp_vm_problems

    def check(entry="main", **overrides):
        return problems({**base, **overrides}, entry)

    return check


def test_valid_defaults_have_no_problems(checked):
    assert checked() == []
    assert checked("destroy", gcp_vm_source_ranges=None) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gcp_vm_source_ranges": ["203.0.113.7/32", "::/0"]}, "gcp_vm_source_ranges: ::/0 lets the whole Internet"),
        ({"gcp_vm_source_ranges": ["my-laptop"]}, 'gcp_vm_source_ranges: "my-laptop" is not an IPv4 or IPv6 address'),
        ({"gcp_vm_source_ranges": "203.0.113.7/24"}, "has host bits set; did you mean 203.0.113.0/24?"),
        ({"gcp_vm_source_ranges": []}, "gcp_vm_source_ranges is empty"),
        ({"gcp_vm_source_ranges": ""}, "gcp_vm_source_ranges is empty"),
        ({"gcp_vm_machine_type": "c4a_standard_4"}, "gcp_vm_machine_type must be a machine type name"),
        ({"gcp_vm_machine_type": "C4A-STANDARD-4"}, "gcp_vm_machine_type must be a machine type name"),
        ({"gcp_vm_machine_type": "zones/us-central1-a/machineTypes/c4a-standard-4"}, "gcp_vm_machine_type must be"),
        ({"gcp_vm_machine_type": "n4-standard-4", "gcp_vm_boot_disk_type": "pd-ssd"}, "n4-standard-4 takes Hyperdisk"),
        ({"gcp_vm_project": "My_Project"}, "gcp_vm_project must be a Google Cloud project ID"),
        ({"gcp_vm_project": ""}, "gcp_vm_project must be a Google Cloud project ID"),
        ({"gcp_vm_zone": "us-central1"}, "gcp_vm_zone must be a zone such as us-central1-a"),
        ({"gcp_vm_name": "RabbitMQ_1"}, "gcp_vm_name must be 1-63 lower-case letters"),
        ({"gcp_vm_firewall_name": "allow tcp"}, "gcp_vm_firewall_name must be 1-63 lower-case letters"),
        ({"gcp_vm_ssh_firewall_name": "22"}, "gcp_vm_ssh_firewall_name must be 1-63"),
        ({"gcp_vm_extra_tags": ["HTTP"]}, 'gcp_vm_extra_tags: "HTTP" is not a network tag'),
        ({"gcp_vm_boot_disk_size_gb": 5}, "gcp_vm_boot_disk_size_gb must be at least 10 (GB), not 5"),
        ({"gcp_vm_management_port": 70000}, "gcp_vm_management_port must be a TCP port (1-65535), not 70000"),
        (
            {"gcp_vm_auth_kind": "serviceaccount", "gcp_vm_service_account_file": "/nonexistent/key.json"},
            "(no such file: /nonexistent/key.json)",
        ),
        ({"gcp_vm_ssh_public_key_file": "/nowhere/id.pub"}, 'gcp_vm_ssh_public_key_file: no such file "/nowhere'),
        ({"ansible_check_mode": True}, "Run with -e gcp_vm_render_only=true"),
    ],
)
def test_variable_check_names_the_variable(checked, overrides, message):
    problems = checked(**overrides)
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_variable_check_of_destroy_ignores_provisioning_only_variables(checked):
    assert checked("destroy", gcp_vm_source_ranges=None, gcp_vm_machine_type="x") == []
    assert checked("destroy", gcp_vm_source_ranges=None, gcp_vm_zone="mars")[0].startswith("gcp_vm_zone must be")


def test_open_range_needs_the_override_and_warns(render):
    plan, out = render(gcp_vm_source_ranges=["0.0.0.0/0"], gcp_vm_source_ranges_allow_any=True)
    assert plan[0][1]["source_ranges"] == ["0.0.0.0/0"]
    assert "WARNING: gcp_vm_source_ranges_allow_any=true" in flat(out)


# --- Render mode: the requests ---------------------------------------------------------


def test_render_plan_order_and_nothing_else_written(default_render):
    plan, out, scratch = default_render
    assert [module for module, _ in plan] == [
        "google.cloud.gcp_compute_firewall",
        "google.cloud.gcp_compute_instance",
        "ansible.builtin.template",
    ]
    assert plan[2][1]["dest"] == str(scratch / "inventory-gcp.ini")
    assert not (scratch / "inventory-gcp.ini").exists()
    assert "Render mode: nothing was sent to Google" in out


def test_render_firewall_rule_is_the_tutorials(default_render):
    plan, _, _ = default_render
    module, rule = plan[0]
    assert module == "google.cloud.gcp_compute_firewall"
    assert rule == {
        "name": "allow-tcp-15672",
        "description": "RabbitMQ management UI (TCP 15672) from the operator's addresses only",
        "network": {"selfLink": NETWORK},
        "direction": "INGRESS",
        "allowed": [{"ip_protocol": "tcp", "ports": ["15672"]}],
        "source_ranges": ["203.0.113.7/32"],
        "target_tags": ["allow-tcp-15672"],
        "state": "present",
        "project": PROJECT,
        "auth_kind": "application",
    }


def test_render_instance_is_the_tutorials(default_render):
    plan, _, _ = default_render
    module, vm = plan[1]
    assert module == "google.cloud.gcp_compute_instance"
    assert vm["name"] == "rabbitmq-1"
    assert vm["zone"] == "us-central1-a"
    assert vm["machine_type"] == "c4a-standard-4"
    assert vm["disks"] == [
        {
            "boot": True,
            "auto_delete": True,
            "initialize_params": {
                "source_image": "projects/suse-cloud/global/images/sles-15-sp6-v20241113-arm64",
                "disk_type": "hyperdisk-balanced",
                "disk_size_gb": 20,
            },
        }
    ]
    assert vm["tags"] == {"items": ["allow-tcp-15672", "http-server"]}
    assert vm["network_interfaces"] == [
        {
            "network": {"selfLink": NETWORK},
            "nic_type": "GVNIC",
            "access_configs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}],
        }
    ]
    assert vm["metadata"] == {"ssh-keys": f"ansible:{PUBLIC_KEY}"}
    assert vm["labels"] == {"app": "rabbitmq"}
    assert vm["deletion_protection"] is False
    assert (vm["project"], vm["auth_kind"], vm["state"]) == (PROJECT, "application", "present")


def test_no_rule_opens_amqp_or_ssh_by_default(default_render):
    plan, _, _ = default_render
    rules = [args for module, args in plan if module == "google.cloud.gcp_compute_firewall"]
    ports = {port for rule in rules for allowed in rule["allowed"] for port in allowed["ports"]}
    assert ports == {"15672"}


def test_render_with_other_variables(render, tmp_path):
    """One run for several variables: SSH rule, ranges as a string, service account, no key, names, paths."""
    key = tmp_path / "sa.json"
    key.write_text("{}")
    plan, _ = render(
        gcp_vm_ssh_firewall=True,
        gcp_vm_source_ranges="203.0.113.7, 2001:db8::/64,203.0.113.7/32",
        gcp_vm_auth_kind="serviceaccount",
        gcp_vm_service_account_file=str(key),
        gcp_vm_ssh_public_key_file="",
        gcp_vm_inventory_path="inventory-gcp.ini",
        gcp_vm_name="broker-7",
        gcp_vm_ssh_user="ops",
        gcp_vm_ssh_common_args="",
    )
    ranges = ["203.0.113.7/32", "2001:db8::/64"]
    rules = [args for module, args in plan if module == "google.cloud.gcp_compute_firewall"]
    assert [(r["name"], r["allowed"], r["source_ranges"], r["target_tags"]) for r in rules] == [
        ("allow-tcp-15672", [{"ip_protocol": "tcp", "ports": ["15672"]}], ranges, ["allow-tcp-15672"]),
        ("allow-tcp-22", [{"ip_protocol": "tcp", "ports": ["22"]}], ranges, ["allow-tcp-22"]),
    ]
    vm = next(args for module, args in plan if module == "google.cloud.gcp_compute_instance")
    assert vm["tags"]["items"] == ["allow-tcp-15672", "allow-tcp-22", "http-server"]
    assert "metadata" not in vm
    for module, args in plan:
        if module.startswith("google.cloud."):
            assert (args["auth_kind"], args["service_account_file"], args["project"]) == (
                "serviceaccount",
                str(key),
                PROJECT,
            )
    # A relative inventory path is relative to the kit's root, not to playbooks/.
    assert plan[-1] == (
        "ansible.builtin.template",
        {"src": "inventory-gcp.ini.j2", "dest": str(ROOT / "inventory-gcp.ini")},
    )
    assert vm["name"] == "broker-7"
    text = (tmp_path / "render" / "inventory-gcp.ini").read_text()
    assert "[rabbitmq]\nbroker-7 ansible_host=192.0.2.10\n" in text
    assert "[workers]\nbroker-7\n" in text
    assert "ansible_user=ops\n" in text
    assert "ansible_ssh_common_args" not in text


# --- Render mode: the REST bodies the google.cloud modules build from those arguments ----


class _CallCutOff(Exception):
    pass


def cut_off(module_name: str, args: dict):
    """Run a google.cloud module's own argument parsing up to its first fetch, and stop there.

    Returns the module's code and its AnsibleModule (arguments parsed and checked by the module)
    and the resource URL it would GET first. fetch_resource is replaced, so no session,
    credential or socket is ever created.
    """
    code = importlib.import_module(f"ansible_collections.google.cloud.plugins.modules.{module_name}")
    seen = {}

    def stop(module, link, kind, allow_not_found=True):
        seen["module"], seen["link"] = module, link
        raise _CallCutOff

    original = code.fetch_resource
    code.fetch_resource = stop
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_no_log": True}}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    try:
        with pytest.raises(_CallCutOff):
            code.main()
    finally:
        code.fetch_resource = original
        basic._ANSIBLE_ARGS = None
        basic._ANSIBLE_PROFILE = None
    return code, seen["module"], seen["link"]


def rest_request(module_name: str, args: dict) -> tuple[dict, str]:
    """The body the module would POST to create the resource, and the resource's URL."""
    code, module, link = cut_off(module_name, args)
    return code.resource_to_request(module), link


def test_firewall_rest_request(default_render):
    plan, _, _ = default_render
    body, link = rest_request("gcp_compute_firewall", plan[0][1])
    assert link == f"https://compute.googleapis.com/compute/v1/projects/{PROJECT}/global/firewalls/allow-tcp-15672"
    assert body == {
        "kind": "compute#firewall",
        "name": "allow-tcp-15672",
        "description": "RabbitMQ management UI (TCP 15672) from the operator's addresses only",
        "network": NETWORK,
        "direction": "INGRESS",
        "priority": 1000,
        "allowed": [{"IPProtocol": "tcp", "ports": ["15672"]}],
        "sourceRanges": ["203.0.113.7/32"],
        "targetTags": ["allow-tcp-15672"],
    }


def test_instance_rest_request(default_render):
    plan, _, _ = default_render
    body, link = rest_request("gcp_compute_instance", plan[1][1])
    zone = f"projects/{PROJECT}/zones/us-central1-a"
    assert link == f"https://compute.googleapis.com/compute/v1/{zone}/instances/rabbitmq-1"
    assert body["machineType"] == f"https://www.googleapis.com/compute/v1/{zone}/machineTypes/c4a-standard-4"
    assert body["disks"] == [
        {
            "autoDelete": True,
            "boot": True,
            "initializeParams": {
                "diskSizeGb": 20,
                "diskType": f"https://compute.googleapis.com/compute/v1/{zone}/diskTypes/hyperdisk-balanced",
                "sourceImage": "projects/suse-cloud/global/images/sles-15-sp6-v20241113-arm64",
            },
        }
    ]
    assert body["tags"] == {"items": ["allow-tcp-15672", "http-server"]}
    assert body["networkInterfaces"] == [
        {
            "network": NETWORK,
            "nicType": "GVNIC",
            "accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}],
        }
    ]
    assert body["metadata"] == {"items": [{"key": "ssh-keys", "value": f"ansible:{PUBLIC_KEY}"}]}
    assert body["deletionProtection"] is False


def test_destroy_rest_requests_address_the_created_resources(default_render, render):
    provision, _, _ = default_render
    destroy, _ = render(DESTROY, gcp_vm_destroy_confirm="yes")
    _, created_vm = rest_request("gcp_compute_instance", provision[1][1])
    _, deleted_vm = rest_request("gcp_compute_instance", destroy[0][1])
    _, created_rule = rest_request("gcp_compute_firewall", provision[0][1])
    _, deleted_rule = rest_request("gcp_compute_firewall", destroy[1][1])
    assert (deleted_vm, deleted_rule) == (created_vm, created_rule)


# The resources as the Compute Engine API returns them once created (fields from its
# reference; output-only ones included, as the modules must ignore them).
LIVE_FIREWALL = {
    "kind": "compute#firewall",
    "id": "4123456789012345678",
    "creationTimestamp": "2025-01-01T00:00:00.000-08:00",
    "name": "allow-tcp-15672",
    "description": "RabbitMQ management UI (TCP 15672) from the operator's addresses only",
    "network": NETWORK,
    "priority": 1000,
    "sourceRanges": ["203.0.113.7/32"],
    "targetTags": ["allow-tcp-15672"],
    "allowed": [{"IPProtocol": "tcp", "ports": ["15672"]}],
    "direction": "INGRESS",
    "logConfig": {"enable": False},
    "disabled": False,
    "selfLink": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/firewalls/allow-tcp-15672",
}
ZONE_URL = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/us-central1-a"
LIVE_INSTANCE = {
    "kind": "compute#instance",
    "id": "5123456789012345678",
    "creationTimestamp": "2025-01-01T00:00:00.000-08:00",
    "name": "rabbitmq-1",
    "tags": {"items": ["allow-tcp-15672", "http-server"], "fingerprint": "42WmSpB8rSM="},
    "machineType": f"{ZONE_URL}/machineTypes/c4a-standard-4",
    "status": "RUNNING",
    "zone": ZONE_URL,
    "canIpForward": False,
    "networkInterfaces": [
        {
            "kind": "compute#networkInterface",
            "network": NETWORK,
            "subnetwork": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/us-central1/subnetworks/default",
            "networkIP": "10.128.0.2",
            "name": "nic0",
            "accessConfigs": [
                {
                    "kind": "compute#accessConfig",
                    "type": "ONE_TO_ONE_NAT",
                    "name": "External NAT",
                    "natIP": "34.1.2.3",
                    "networkTier": "PREMIUM",
                }
            ],
            "fingerprint": "a5sDNQ2lQ3U=",
            "stackType": "IPV4_ONLY",
            "nicType": "GVNIC",
        }
    ],
    "disks": [
        {
            "kind": "compute#attachedDisk",
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "source": f"{ZONE_URL}/disks/rabbitmq-1",
            "deviceName": "persistent-disk-0",
            "index": 0,
            "boot": True,
            "autoDelete": True,
            "interface": "NVME",
            "diskSizeGb": "20",
            "architecture": "ARM64",
        }
    ],
    "metadata": {
        "kind": "compute#metadata",
        "fingerprint": "l4bD1jz7SKM=",
        "items": [{"key": "ssh-keys", "value": f"ansible:{PUBLIC_KEY}"}],
    },
    "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False},
    "cpuPlatform": "Google Axion",
    "labels": {"app": "rabbitmq"},
    "labelFingerprint": "vU1Ee2Mnj3s=",
    "deletionProtection": False,
    "shieldedInstanceConfig": {"enableSecureBoot": False, "enableVtpm": True, "enableIntegrityMonitoring": True},
    "selfLink": f"{ZONE_URL}/instances/rabbitmq-1",
}


@pytest.mark.parametrize(
    ("step", "module_name", "live", "change"),
    [
        (0, "gcp_compute_firewall", LIVE_FIREWALL, {"sourceRanges": ["198.51.100.0/24"]}),
        (1, "gcp_compute_instance", LIVE_INSTANCE, {"machineType": f"{ZONE_URL}/machineTypes/c4a-standard-8"}),
    ],
)
def test_second_run_finds_nothing_to_update(default_render, step, module_name, live, change):
    """The modules compare what they would send with what exists: the created resource must match."""
    plan, _, _ = default_render
    code, module, _ = cut_off(module_name, plan[step][1])
    # What the module does to a fetched resource before comparing (only the instance decodes metadata).
    fetched = getattr(code, "decode_response", lambda response, module: response)
    assert not code.is_different(module, fetched(copy.deepcopy(live), module))
    assert code.is_different(module, fetched({**copy.deepcopy(live), **change}, module))


# --- The inventory for site.yml -------------------------------------------------------


def test_rendered_inventory_is_ready_for_site_yml(default_render):
    _, _, scratch = default_render
    path = scratch / "render" / "inventory-gcp.ini"
    result = subprocess.run(
        ["ansible-inventory", "-i", str(path), "--list"],
        cwd=ROOT,
        env=offline_env(scratch),
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = json.loads(result.stdout)
    assert inventory["rabbitmq"]["hosts"] == ["rabbitmq-1"]
    assert inventory["workers"]["hosts"] == ["rabbitmq-1"]
    assert inventory["_meta"]["hostvars"]["rabbitmq-1"] == {
        "ansible_host": "192.0.2.10",
        "ansible_user": "ansible",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new",
    }
    assert "stands in for the VM's external IP" in path.read_text()


# --- Destroy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confirm", "message"),
    [
        ({}, "missing required arguments: gcp_vm_destroy_confirm"),
        ({"gcp_vm_destroy_confirm": "no"}, "value of gcp_vm_destroy_confirm must be one of: yes, got: no"),
    ],
)
def test_destroy_needs_confirmation(nowhere_inventory, tmp_path, good, confirm, message):
    (tmp_path / "inventory-gcp.ini").write_text("[rabbitmq]\n")
    code, out = run(nowhere_inventory, tmp_path, DESTROY, *extra({**good, **confirm}))
    assert_stopped_before_google(code, out)
    assert message in out
    assert (tmp_path / "inventory-gcp.ini").exists()


def test_destroy_plan_deletes_vm_then_rule_then_inventory(render, tmp_path):
    (tmp_path / "inventory-gcp.ini").write_text("[rabbitmq]\n")
    plan, _ = render(DESTROY, gcp_vm_destroy_confirm="yes")
    auth = {"project": PROJECT, "auth_kind": "application"}
    assert plan == [
        (
            "google.cloud.gcp_compute_instance",
            {"name": "rabbitmq-1", "zone": "us-central1-a", "state": "absent", **auth},
        ),
        ("google.cloud.gcp_compute_firewall", {"name": "allow-tcp-15672", "state": "absent", **auth}),
        ("ansible.builtin.file", {"path": str(tmp_path / "inventory-gcp.ini"), "state": "absent"}),
    ]
    assert (tmp_path / "inventory-gcp.ini").exists(), "render mode must not delete anything"


def test_destroy_can_keep_the_rule_and_remove_the_ssh_rule(render):
    kept, _ = render(DESTROY, gcp_vm_destroy_confirm="yes", gcp_vm_destroy_firewall=False)
    assert [m for m, _ in kept] == ["google.cloud.gcp_compute_instance", "ansible.builtin.file"]
    both, _ = render(DESTROY, gcp_vm_destroy_confirm="yes", gcp_vm_ssh_firewall=True)
    assert [a["name"] for m, a in both if m == "google.cloud.gcp_compute_firewall"] == [
        "allow-tcp-15672",
        "allow-tcp-22",
    ]


# --- Real mode against stand-in modules: the tasks send what render mode wrote ------------

# A collection named google.cloud whose modules record their arguments and answer like the
# API; ANSIBLE_COLLECTIONS_PATH puts it before the real one. No module touches the network.
STUB_MODULE = """#!/usr/bin/python
import json, os
from ansible.module_utils.basic import AnsibleModule, _load_params

NAME = {name!r}
# Takes any argument as it comes; the real modules' checks are tested with cut_off().
names = [k for k in _load_params() if not k.startswith("_ansible")]
module = AnsibleModule(argument_spec={{k: {{"type": "raw"}} for k in names}})
params = {{k: module.params[k] for k in names}}
with open(os.environ["GCP_STUB_LOG"], "a") as log:
    log.write(json.dumps({{"module": "google.cloud." + NAME, "args": params}}) + "\\n")
nat = {{"networkInterfaces": [{{"accessConfigs": [{{"name": "External NAT", "natIP": os.environ["GCP_STUB_IP"]}}]}}]}}
result = {{"changed": True}}
if NAME == "gcp_compute_instance" and params.get("state") == "present":
    result.update({{"name": params["name"], "status": "RUNNING"}})
    if not os.environ.get("GCP_STUB_IP_LATER"):
        result.update(nat)
if NAME == "gcp_compute_instance_info":
    result = {{"changed": False, "resources": [dict(nat, name="rabbitmq-1")]}}
module.exit_json(**result)
"""


@pytest.fixture
def stub_google(tmp_path):
    modules = tmp_path / "collections/ansible_collections/google/cloud/plugins/modules"
    modules.mkdir(parents=True)
    for name in ("gcp_compute_firewall", "gcp_compute_instance", "gcp_compute_instance_info"):
        (modules / f"{name}.py").write_text(STUB_MODULE.format(name=name))
    log = tmp_path / "calls.jsonl"
    env = offline_env(tmp_path)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=f"{tmp_path / 'collections'}:{ROOT / 'collections'}",
        GCP_STUB_LOG=str(log),
        GCP_STUB_IP="198.51.100.20",
    )

    def calls():
        lines = log.read_text().splitlines() if log.exists() else []
        return [(call["module"], call["args"]) for call in map(json.loads, lines)]

    return env, calls


@pytest.mark.parametrize("ip_later", [False, True], ids=["ip-in-create-answer", "ip-from-info"])
def test_real_provision_sends_the_rendered_requests_and_writes_the_inventory(
    nowhere_inventory, tmp_path, good, render, stub_google, ip_later
):
    env, calls = stub_google
    if ip_later:
        env["GCP_STUB_IP_LATER"] = "1"
    plan, _ = render()
    code, out = run(nowhere_inventory, tmp_path, PROVISION, *extra({**good, "gcp_vm_wait_for_ssh": False}), env=env)
    assert code == 0, out
    google_steps = [step for step in plan if step[0].startswith("google.cloud.")]
    sent = [call for call in calls() if call[0] != "google.cloud.gcp_compute_instance_info"]
    assert sent == google_steps
    if ip_later:
        assert [module for module, _ in calls()][-1] == "google.cloud.gcp_compute_instance_info"
    inventory = (tmp_path / "inventory-gcp.ini").read_text()
    assert "[rabbitmq]\nrabbitmq-1 ansible_host=198.51.100.20\n" in inventory
    assert "[workers]\nrabbitmq-1\n" in inventory
    assert "stands in" not in inventory
    assert "is at 198.51.100.20" in flat(out)


def test_real_destroy_sends_the_rendered_requests_and_removes_the_inventory(
    nowhere_inventory, tmp_path, good, render, stub_google
):
    env, calls = stub_google
    variables = {**good, "gcp_vm_destroy_confirm": "yes"}
    plan, _ = render(DESTROY, gcp_vm_destroy_confirm="yes")
    (tmp_path / "inventory-gcp.ini").write_text("[rabbitmq]\n")
    code, out = run(nowhere_inventory, tmp_path, DESTROY, *extra(variables), env=env)
    assert code == 0, out
    assert calls() == [step for step in plan if step[0].startswith("google.cloud.")]
    assert not (tmp_path / "inventory-gcp.ini").exists()


# --- Real mode: the first network access, caught on loopback ----------------------------


class _RecordingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _RefuseHandler)


class _RefuseHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode("latin-1").strip()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.server.requests.append(line)
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def recording_proxy():
    proxy = _RecordingProxy()
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


@pytest.mark.skipif(
    importlib.util.find_spec("google.auth") is None,
    reason="google-auth is not installed (the google.cloud modules need it on the controller)",
)
@pytest.mark.parametrize(
    ("playbook", "first_task", "later_task", "variables"),
    [
        (PROVISION, "Create the firewall rules", "Create the VM", {}),
        (DESTROY, "Delete the VM and its boot disk", "Delete the firewall rules", {"gcp_vm_destroy_confirm": "yes"}),
    ],
)
def test_real_run_goes_to_google_only_from_the_cloud_task(
    nowhere_inventory, tmp_path, good, recording_proxy, playbook, first_task, later_task, variables
):
    credentials = tmp_path / "adc.json"
    credentials.write_text(
        json.dumps({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"})
    )
    env = offline_env(tmp_path, proxy=f"http://127.0.0.1:{recording_proxy.server_address[1]}")
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(credentials)
    inventory = tmp_path / "inventory-gcp.ini"
    inventory.write_text("[rabbitmq]\n")

    code, out = run(nowhere_inventory, tmp_path, playbook, *extra({**good, **variables}), env=env)

    assert code != 0, out
    assert f"TASK [gcp_vm : {first_task}]" in out
    assert f"TASK [gcp_vm : {later_task}]" not in out
    # The module accepted its arguments and went for a token: through the proxy, to Google only.
    assert recording_proxy.requests, out
    assert {tuple(line.split()[:2]) for line in recording_proxy.requests} == {("CONNECT", "oauth2.googleapis.com:443")}
    assert inventory.read_text() == "[rabbitmq]\n"


# --- Filters --------------------------------------------------------------------------


def test_external_ip_is_read_from_the_instance_resource():
    external_ip = _filters().gcp_vm_external_ip
    running = {"networkInterfaces": [{"networkIP": "10.128.0.2", "accessConfigs": [{"natIP": "34.1.2.3"}]}]}
    assert external_ip(running) == "34.1.2.3"
    assert external_ip({"networkInterfaces": [{"accessConfigs": [{"name": "External NAT"}]}]}) == ""
    assert external_ip({"changed": False}) == ""


def test_source_range_filters():
    filters = _filters()
    assert filters.gcp_vm_source_ranges(["198.51.100.1", "2001:db8::1"]) == ["198.51.100.1/32", "2001:db8::1/128"]
    assert filters.source_range_problems(["10.0.0.0/8", "203.0.113.7"]) == []
    assert filters.source_range_problems(["0.0.0.0/0"], allow_any=True) == []
    assert len(filters.source_range_problems("0.0.0.0/0,bogus")) == 2
