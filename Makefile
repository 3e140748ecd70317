# mlsite: `make lab` rehearses the lab site; `make test` runs every test.
# Both set the machine up first (Debian packages, the virtualenv), so on a fresh Debian
# machine either is the only command needed.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK ?= lab

# Debian packages the lab and its tests need (hosts as systemd-nspawn machines, their
# network, the apt proxy, SSH, NFS and Ceph clients, image building).
APT_PACKAGES := debootstrap systemd-container apt-cacher-ng iproute2 nftables \
	openssh-client zstd libnfs-utils ceph-common buildah skopeo util-linux e2fsprogs \
	procps psmisc curl ca-certificates postgresql-client

.PHONY: setup apt venv engine test test-fast test-lab lint lab lab-down format clean

setup: apt venv engine

# The Pulumi CLI and the Kubernetes provider, built once per pinned version from Go modules
# (cached in ~/.cache/mlsite; a first build takes minutes), and the two Python plugins, all
# linked into $(BIN) so `. $(BIN)/activate && pulumi preview --stack lab` works.
engine: venv
	$(BIN)/python -m mlsite.engine.toolchain install $(BIN)

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make setup: install as root: apt-get install $$missing" >&2; exit 1; fi; \
	  echo "installing Debian packages: $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Every test on Debian 12 lab hosts, then the host-layer and registry lab tests again on
# Debian 13 hosts (the releases the lab can boot; see README "The lab").
DEBIAN13_TESTS := tests/hosts/test_lab_hosts.py tests/registry/test_registry_lab.py

test: setup
	$(BIN)/pytest
	MLSITE_TEST_DEBIAN=13 $(BIN)/pytest -m lab $(DEBIAN13_TESTS)

test-lab: venv
	$(BIN)/pytest -m lab

test-fast: venv
	$(BIN)/pytest -m 'not lab'

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict mlsite
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lab: setup
	$(BIN)/mlsite validate --stack $(STACK)
	$(BIN)/mlsite rehearse --stack $(STACK)

lab-down: venv
	$(BIN)/mlsite lab down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
