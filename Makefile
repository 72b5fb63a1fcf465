# The two commands of the README: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: dev test test-fast install install-test lint bench clean temporal-cluster-bin temporal-cluster

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("cvms needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# What the running stack needs (`make dev`); re-installed whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test and lint tools on top (Playwright, schemathesis, hypothesis, ruff, mypy ...): only
# `make test` and friends need them. Newer than .installed, or installed again after it.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

dev: install
	$(BIN)/cvms dev

# ruff, the import floors (import-linter contracts in pyproject.toml) and mypy (strict on
# domain/, services/ and workflows/).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install-test lint
	$(BIN)/python -m tests.run_suite

# The inner loop: SQLite only, without the browser, fault-injection and slow tests.
test-fast: install-test lint
	$(BIN)/python -m tests.run_suite --sqlite-only -m "not browser and not faults and not slow"

# The official Temporal server and its schema tool, built from their Go module at the version
# pinned in cluster/temporal_cluster.py into .temporal-cluster/<version>/bin (skipped when there).
temporal-cluster-bin: install
	$(BIN)/python -m cluster.temporal_cluster build

# A five-process Temporal cluster on the PostgreSQL at 127.0.0.1:5432, in the foreground.
temporal-cluster: temporal-cluster-bin
	$(BIN)/python -m cluster.temporal_cluster up

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .cvms .temporal-cluster
