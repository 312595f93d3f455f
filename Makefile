# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
# What is installed: the runtime (requirements.lock) for `make run`, everything
# (requirements-dev.lock: checks and tests too) for the rest. uv installs both, in seconds.
RUNTIME := $(VENV)/.runtime-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
STAMP   := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install runtime run worker test lint unit bench bytecode clean

$(UV):
	@scripts/ensure-venv.sh "$(PYTHON)" "$(VENV)"
	@echo "setting up $(VENV): installing uv, the installer"
	@$(BIN)/python -m pip install --quiet uv

$(RUNTIME): requirements.lock pyproject.toml | $(UV)
	@echo "installing what the backend needs (requirements.lock) with uv"
	@$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.runtime-* && touch $@

$(STAMP): requirements-dev.lock pyproject.toml | $(UV)
	@echo "installing the backend with its checks and tests (requirements-dev.lock) with uv"
	@$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements-dev.lock
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

runtime: $(RUNTIME)

install: $(STAMP)

# The suite and the benchmark start dozens of Python processes (servers, workers, the CLI).
# Where PYTHONDONTWRITEBYTECODE is set, each would compile every module again (~3 s a
# start): compile once here instead; only what changed since is compiled again.
bytecode: install
	@$(BIN)/python -m compileall -q -j 0 bootstrap.py domain application adapters entrypoints bench tests >/dev/null

run: runtime  ## the backend on the embedded default (SQLite, in-process worker, sandbox providers)
	$(BIN)/python -m entrypoints.cli serve

worker: runtime  ## a Dramatiq worker process (set REDIS_URL)
	$(BIN)/python -m entrypoints.cli worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

test: lint bytecode  ## the whole suite: checks, unit, integration and end-to-end tests
	$(BIN)/pytest -n 2 --dist loadgroup

unit: bytecode
	$(BIN)/pytest tests/unit

bench: bytecode  ## every performance figure in one table, under 5 minutes (bench/README.md)
	$(BIN)/python -m bench.suite

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
