# `make run` and `make test` work on a fresh machine with Python 3.11, git, make and a C compiler.
# `make run` installs only what the server needs; the test and lint tools come with `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev

.PHONY: run test lint check bench clean

$(RUNTIME): pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing the server's runtime into $(VENV) (the first time takes a minute or two)"
	@$(PIP) install --quiet --upgrade pip
	$(PIP) install --progress-bar on -e .
	@touch $@

$(DEV): $(RUNTIME) pyproject.toml
	@echo "==> installing the test and lint tools and the live-feed adapters into $(VENV)"
	$(PIP) install --progress-bar on -e '.[dev]'
	@touch $@

run: $(RUNTIME)  ## Set up and start the server (embedded SQLite, simulated market)
	@echo "==> starting Tradepit (Ctrl-C stops it)"
	$(BIN)/tradepit serve

lint: $(DEV)  ## ruff, mypy --strict and the layer contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## Set up and run the whole test suite
	$(BIN)/pytest

bench: $(DEV)  ## Run the benchmarks and print ratios against their baselines
	@command -v wrk >/dev/null || { echo "==> installing wrk, the HTTP load generator (Debian package)"; \
	  $$(command -v sudo || true) apt-get install -y wrk || \
	  { $$(command -v sudo || true) apt-get update && $$(command -v sudo || true) apt-get install -y wrk; }; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
