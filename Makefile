# watchfloor: `make run` and `make test` do all set-up on a fresh machine (Python 3.11+ and make).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export WATCHFLOOR_HOME ?= $(CURDIR)/var
PORT   ?= 8501

.PHONY: run test bench demo lint clean help

help:
	@echo "make run    - set up, load the demo scenario if the store is empty, serve the dashboard on :$(PORT)"
	@echo "make test   - set up with dev extras and run every test"
	@echo "make bench  - run the benchmarks in bench/ and print their tables"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/watchfloor demo load --if-empty
	$(BIN)/watchfloor users bootstrap
	$(BIN)/watchfloor up --demo --port $(PORT)

demo: $(VENV)/.installed
	$(BIN)/watchfloor demo load

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check dashboard layers ingest tests bench

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts bench/out
