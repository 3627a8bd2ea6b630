# overnight: `make test`, `make demo`, `make lint`. Everything installs into .venv;
# pyproject.toml changes trigger a reinstall (the stamp file records the last one).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: install test demo demo-plan lint tools container deploy-image local-model local-model-tiny

install: $(STAMP) tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	    echo "cannot create $(VENV) with $(PYTHON): install Python >= 3.11 with venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# system tools: git, bubblewrap and socat (the sandbox), PostgreSQL's server
# binaries (the tests); installed when missing and root, else named
tools:
	@sh scripts/system-deps.sh

# the container sandbox: podman, runc, its configuration and the base image built from
# Debian's packages (first build ~1.5-5 min; cached: well under a second)
container:
	@bash scripts/container-image.sh

# the worker/dashboard image (deploy/Containerfile) FROM that base image
deploy-image: install
	PYTHON=$(BIN)/python scripts/deploy-image.sh

# the embedded model (llama.cpp engine + weights): the engine is built once, ~10 min
# on 2 cores, then its wheel is reused from ~/.cache/overnight/wheels
local-model: install
	scripts/install-local-model.sh 1.5b

local-model-tiny: install
	scripts/install-local-model.sh 0.5b

test: install local-model-tiny
	@sh scripts/install-browser.sh
	@bash scripts/container-image.sh || echo "make test: the container sandbox's tests will skip (above: why)"
	$(BIN)/python -m pytest --durations=25

demo: install local-model
	$(BIN)/overnight demo

demo-plan: install local-model  # the embedded model plans a feature of the sample repository
	$(BIN)/overnight demo --plan

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-logo
