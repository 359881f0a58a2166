"""Fixtures of the cluster scenario's testinfra tests: the hosts by role."""

import os
import sys
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))

BROKERS = ["cluster-rabbit-1", "cluster-rabbit-2", "cluster-rabbit-3"]
WORKER = "cluster-worker-1"


def connect(name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def brokers():
    return {name: connect(name) for name in BROKERS}


@pytest.fixture(scope="module")
def worker():
    return connect(WORKER)
