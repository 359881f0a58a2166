# One entry point for the kit's chores. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
DISTROS ?= debian13 debian12 suse-family
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv testbed lint test test-unit test-collection test-worker test-bench test-lab test-fresh-machine test-molecule test-arm64 test-suse

help:
	@echo "make test           lint + every test (what CI runs; as root on a fresh Debian machine it installs what it needs)"
	@echo "make lint           yamllint, ansible-lint (production), ruff, mypy, ansible-test sanity"
	@echo "make test-unit      controller-side tests: variables, role logic (no hosts; the topology role against a private RabbitMQ)"
	@echo "make test-collection the kit as an installed collection, used from another project (a private RabbitMQ; a systemd host)"
	@echo "make test-worker    the worker package against a real RabbitMQ it starts"
	@echo "make test-bench     the benchmark's tiny mode end to end (no thresholds), and its README block"
	@echo "make test-lab       ./lab up (first in make test), again (changed=0), demo, the management UI in headless Chromium, down"
	@echo "make test-fresh-machine ./lab up, demo, down in a stand-in fresh Debian 12 machine (a container)"
	@echo "make test-molecule  molecule default (Debian 13; Debian 12 with TLS), cluster, suse-family (SUSE-shaped test host)"
	@echo "make test-arm64     molecule arm64: site.yml on an emulated aarch64 host (about 55 min)"
	@echo "make test-suse      molecule suse on openSUSE Leap 15.6 (needs registry.opensuse.org and openSUSE's mirrors)"
	@echo "make testbed        docker daemon, systemd base images, the SUSE-family host and its repository (root)"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt worker/pyproject.toml
	testbed/packages.sh python3-venv
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e worker
	touch $@

testbed:
	testbed/prepare.sh $(DISTROS)

lint: venv
	yamllint --strict .
	ansible-lint
	ruff check . worker
	ruff format --check . worker
	cd worker && mypy
	mypy --strict --ignore-missing-imports bench
	testbed/packages.sh shellcheck
	tools/sanity.sh

# tests/broker runs the topology role against a private RabbitMQ node on loopback.
test-unit: venv
	testbed/packages.sh rabbitmq-server
	pytest -q tests --ignore=tests/lab --ignore=tests/collection

# The built collection from another project: onto a private node, then onto a
# systemd host of the test bed (broker, topology, a worker).
test-collection: venv testbed
	testbed/packages.sh rabbitmq-server
	pytest -q tests/collection

# The worker tests start their own RabbitMQ nodes from Debian's rabbitmq-server package.
test-worker: venv
	testbed/packages.sh rabbitmq-server
	cd worker && pytest -q
	cd examples/handler-package && pytest -q

test-bench: venv
	testbed/packages.sh rabbitmq-server
	pytest -q bench

# `make test` runs this first: on a fresh machine `./lab up` is then the first command,
# and it installs what it needs itself (make's venv, docker, the lab's image), as for a user.
# tests/lab runs `./lab up` again into that lab (nothing may change), then demo, UI, down.
test-lab:
	./lab up
	$(MAKE) --no-print-directory venv
	testbed/packages.sh chromium chromium-driver openssh-client
	pytest -q tests/lab

# A stand-in fresh Debian 12 machine (a container; not a VM): ./lab up, demo, down as its
# first commands, with no make, docker or venv installed before (testbed/fresh-machine.sh).
test-fresh-machine: testbed
	testbed/fresh-machine.sh

# Debian 13 runs the plain variant, Debian 12 the TLS variant (AMQPS/HTTPS only).
test-molecule: venv testbed
	echo "=== $$(date +%T) molecule default on debian13"
	MOLECULE_DISTRO=debian13 molecule test -s default
	echo "=== $$(date +%T) molecule default on debian12, TLS"
	MOLECULE_DISTRO=debian12 MOLECULE_TLS=true molecule test -s default
	echo "=== $$(date +%T) molecule cluster"
	molecule test -s cluster
	echo "=== $$(date +%T) molecule suse-family (SUSE-family test host, not SUSE), the tutorial's signed RPMs"
	molecule test -s suse-family
	echo "=== $$(date +%T) molecule suse-family-cluster: two SUSE-family hosts from rabbitmq-server313-shaped packages"
	molecule test -s suse-family-cluster
	testbed/suse-scenario.sh
	echo "=== $$(date +%T) molecule done"

test-arm64: venv
	testbed/prepare.sh debian13-arm64
	molecule test -s arm64

test-suse: venv
	testbed/prepare.sh debian13
	KIT_SUSE_PULL=1 testbed/suse-scenario.sh

test: test-lab lint test-unit test-collection test-worker test-bench test-fresh-machine test-molecule
