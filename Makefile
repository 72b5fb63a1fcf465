# The two commands of the README: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: dev test test-fast install lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("cvms needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

dev: install
	$(BIN)/cvms dev

# ruff, the import floors (import-linter contracts in pyproject.toml) and mypy (strict on
# domain/, services/ and workflows/).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m tests.run_suite

# The inner loop: SQLite only, without the browser, fault-injection and slow tests.
test-fast: install lint
	$(BIN)/python -m tests.run_suite --sqlite-only -m "not browser and not faults and not slow"

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .cvms
