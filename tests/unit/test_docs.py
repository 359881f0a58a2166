"""The documentation says what the code does: variable tables and examples."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_role_readme_variable_tables_match_argument_specs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools/role_docs.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_topology_readme_third_use_case_is_only_variables():
    readme = (ROOT / "roles/rabbitmq_topology/README.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", readme, re.S).group(1))
    spec = importlib.util.spec_from_file_location("topology_filter", ROOT / "plugins/module_utils/topology.py")
    topology = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(topology)
    defaults = yaml.safe_load((ROOT / "roles/rabbitmq_topology/defaults/main.yml").read_text())
    settings = {
        "vhost": defaults["rabbitmq_topology_vhost"],
        "default_queue_type": "classic",  # what "auto" means on a single node
        "retry_delay_ms": defaults["rabbitmq_topology_retry_delay_ms"],
        "delivery_limit": defaults["rabbitmq_topology_delivery_limit"],
        "policy_priority": defaults["rabbitmq_topology_policy_priority"],
    }
    out = topology.expand(
        example["rabbitmq_topology_exchanges"],
        example["rabbitmq_topology_queues"],
        example["rabbitmq_topology_bindings"],
        [],
        settings,
    )
    assert {"audit", "audit.log.dlx"} <= {e["name"] for e in out["exchanges"]}
    assert ("events", "audit", "exchange") in {
        (b["source"], b["destination"], b["destination_type"]) for b in out["bindings"]
    }
