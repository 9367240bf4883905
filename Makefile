# swarmctl's entry points. `make demo` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
LAB ?= demo
DISTRO ?= bookworm
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo demo-down test lint sanity unit e2e drill faults molecule bench venv engine clean

## demo: venv + install + Docker engine + a lab of 3 managers and 2 workers, provisioned
demo: venv engine
	@inv=$$($(BIN)/swarmctl lab up --name $(LAB) --managers 3 --workers 2 --distro $(DISTRO)) && \
	  $(BIN)/swarmctl provision "$$inv" && \
	  echo "Inventory: $$inv  (try: swarmctl lab ssh $(LAB)-m1, then 'sudo docker node ls')"

## demo-down: remove the demo lab (its containers, volumes, network and key)
demo-down: venv
	$(BIN)/swarmctl lab down --name $(LAB)

## test: lint, ansible-test sanity, unit and end-to-end tests on lab nodes, Molecule
## (the drill and faults_long are left out for CI's time budget: make drill, make faults)
test: venv engine lint sanity
	SWARMCTL_TEST_INSTALLED=1 $(BIN)/pytest -ra --durations=25 -m "not faults_long and not drill" tests
	$(MAKE) molecule

lint: venv
	$(BIN)/ruff check swarmctl tests bench plugins
	$(BIN)/yamllint -s roles playbooks molecule inventories examples meta galaxy.yml
	$(BIN)/ansible-lint --profile production

## sanity: ansible-test sanity on the built collection (the tests that run offline)
sanity: venv
	BIN=$(BIN) scripts/sanity.sh

unit: venv
	$(BIN)/pytest -ra tests/unit

e2e: venv engine
	SWARMCTL_TEST_INSTALLED=1 $(BIN)/pytest -ra -m "e2e and not drill and not faults_long" tests

## drill: the disaster-recovery drill (backup, recover, restore on one lab; ~12 min)
drill: venv engine
	SWARMCTL_TEST_INSTALLED=1 $(BIN)/pytest -ra -m drill tests/e2e/test_recovery.py -x

## faults: every fault scenario (interrupted runs, faults under load on one lab; ~12 min)
faults: venv engine
	SWARMCTL_TEST_INSTALLED=1 $(BIN)/pytest -ra -m faults tests/e2e/test_faults.py tests/e2e/test_faults_swarm.py

## molecule: Molecule scenarios (MOLECULE_SCENARIOS, default: default services) on MOLECULE_DISTRO nodes
## (the `upgrade` scenario is left out of the default for CI's time budget:
##  make molecule MOLECULE_SCENARIOS=upgrade; bookworm nodes only)
MOLECULE_DISTRO ?= $(DISTRO)
MOLECULE_SCENARIOS ?= default services
molecule: venv engine
	$(PY) molecule/node_image.py $(MOLECULE_DISTRO)
	@for s in $(MOLECULE_SCENARIOS); do \
	  MOLECULE_DISTRO=$(MOLECULE_DISTRO) $(BIN)/molecule test -s $$s || exit 1; done

bench: venv engine
	$(PY) -m bench

## venv: a virtualenv with swarmctl installed as users install it (`pip install .`)
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml $(shell find swarmctl playbooks roles plugins meta -type f -not -name '*.pyc' 2>/dev/null) ansible.cfg galaxy.yml
	@scripts/ensure-tools.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q '.[test]'
	touch $@

engine:
	@scripts/ensure-tools.sh
	@scripts/ensure-docker.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
