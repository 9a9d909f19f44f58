# `make run` and `make test` work on a fresh machine with Python 3.11, git, make and a C compiler.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## Set up and start the server (embedded SQLite, simulated market)
	$(BIN)/tradepit serve

lint: $(STAMP)  ## ruff, mypy --strict and the layer contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## Set up and run the whole test suite
	$(BIN)/pytest

bench: $(STAMP)  ## Run the benchmarks and print ratios against their baselines
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
