# AgentMessage — two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help run test lint bench install lock schemas optout-model clean-data fmt
.DEFAULT_GOAL := help

# `make lock` compiles the hashed locks with this uv, installed from PyPI into its own venv.
UV_VERSION := 0.13.8
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
UV_COMPILE := $(UV) pip compile --no-config --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command 'make lock'

## List the targets.
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-z-]+:/{if(doc){split($$0,t,":"); printf "  make %-11s %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml libs/sdk/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e libs/sdk
	@touch $(STAMP)

## Create .venv with every dependency from requirements.lock (hash-checked) and the project, editable.
install: $(STAMP)

## Recompile both hashed locks from requirements.in and requirements-runtime.in (keeps locked versions).
lock:
	@test -x $(UV) || { $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION); }
	@$(UV_COMPILE) requirements.in -o requirements.lock
	@test -f requirements-runtime.lock || cp requirements.lock requirements-runtime.lock
	@$(UV_COMPILE) requirements-runtime.in -c requirements.lock -o requirements-runtime.lock
	@echo "requirements.lock and requirements-runtime.lock written"

## Start everything: embedded NATS + PostgreSQL under .data/, all services, the carrier simulator.
run: $(STAMP)
	@$(PY) -m services.devstack

## The whole suite against real NATS and PostgreSQL (lint included).
test: $(STAMP) lint
	@test -x $${AM_CHROMIUM:-/usr/bin/chromium} || echo "make test: no chromium at $${AM_CHROMIUM:-/usr/bin/chromium}: the dashboard's browser tests (tests/browser) will be SKIPPED. Install it: sudo apt-get update && sudo apt-get install -y chromium" >&2
	@$(PY) -m pytest -q -n $${AM_TEST_WORKERS:-2} --dist worksteal

## ruff, import-linter, mypy --strict, and the wire-schema drift check.
lint: $(STAMP)
	@$(VENV)/bin/ruff check proto libs services tests
	@$(VENV)/bin/lint-imports --no-cache >/dev/null
	@$(VENV)/bin/mypy proto libs services
	@$(PY) -m proto.gen --check

## Regenerate proto/schemas/ from the msgspec contracts.
schemas: $(STAMP)
	@$(PY) -m proto.gen

## Retrain the opt-out model from the labelled corpora (services/compliance/keywords/weights.json).
optout-model: $(STAMP)
	@$(PY) -m services.compliance.keywords.train

## Throughput and latency benchmark against a local stack.
bench: $(STAMP)
	@$(PY) -m tests.bench

## ruff --fix and ruff format.
fmt: $(STAMP)
	@$(VENV)/bin/ruff check --fix proto libs services tests; $(VENV)/bin/ruff format proto libs services tests

## Delete .data (the embedded NATS and PostgreSQL of make run).
clean-data:
	rm -rf .data
