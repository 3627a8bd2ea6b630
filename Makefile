# overnight: `make test`, `make demo`, `make lint`. Everything installs into .venv;
# pyproject.toml changes trigger a reinstall (the stamp file records the last one).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: install test demo lint tools

install: $(STAMP) tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	    echo "cannot create $(VENV) with $(PYTHON): install Python >= 3.11 with venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# git is the one system tool overnight needs; as root, install it when missing.
tools:
	@command -v git >/dev/null || { \
	    if [ "$$(id -u)" = 0 ]; then $(APT) update -qq && $(APT) install -y -qq git; \
	    else echo "git is missing: install it (e.g. sudo apt-get install git)" >&2; exit 1; fi; }

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/overnight demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src
