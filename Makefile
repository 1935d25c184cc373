# AgentMessage — two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install schemas clean-data fmt

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

## Start everything: embedded NATS + PostgreSQL under .data/, all services, the carrier simulator.
run: $(STAMP)
	@$(PY) -m services.devstack

## The whole suite against real NATS and PostgreSQL (lint included).
test: $(STAMP) lint
	@test -x $${AM_CHROMIUM:-/usr/bin/chromium} || echo "make test: no chromium at $${AM_CHROMIUM:-/usr/bin/chromium}: the dashboard's browser tests (tests/browser) will be SKIPPED. Install it: sudo apt-get update && sudo apt-get install -y chromium" >&2
	@$(PY) -m pytest -q

lint: $(STAMP)
	@$(VENV)/bin/ruff check proto libs services tests
	@$(VENV)/bin/lint-imports --no-cache >/dev/null
	@$(VENV)/bin/mypy proto libs services
	@$(PY) -m proto.gen --check

schemas: $(STAMP)
	@$(PY) -m proto.gen

bench: $(STAMP)
	@$(PY) -m tests.bench

fmt: $(STAMP)
	@$(VENV)/bin/ruff check --fix proto libs services tests; $(VENV)/bin/ruff format proto libs services tests

clean-data:
	rm -rf .data
