# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run worker test lint unit bench clean

$(STAMP): requirements-dev.lock pyproject.toml
	@scripts/ensure-venv.sh "$(PYTHON)" "$(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install  ## the backend on the embedded default (SQLite, in-process worker, sandbox providers)
	$(BIN)/python -m entrypoints.cli serve

worker: install  ## a Dramatiq worker process (set REDIS_URL)
	$(BIN)/python -m entrypoints.cli worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

test: lint  ## the whole suite: checks, unit, integration and end-to-end tests
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

bench: install  ## every performance figure in one table, under 5 minutes (bench/README.md)
	$(BIN)/python -m bench.suite

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
