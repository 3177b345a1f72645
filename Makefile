# Two commands do all the set-up on a fresh machine (Python 3.11+):
#   make demo   installs into .venv and audits the built-in demo environment (no AWS, no cluster)
#   make test   installs into .venv (with dev tools) and runs lint, type checks and the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo serve-demo test lint typecheck unit install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The [demo] extra brings the demo's moto server and emulator dependencies (a production install has none).
install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[demo]"

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

demo: install
	$(BIN)/auditor demo

serve-demo: install
	$(BIN)/auditor demo --serve

lint: install-dev
	$(BIN)/ruff check auditor tests bench
	$(BIN)/ruff format --check auditor tests bench

typecheck: install-dev
	$(BIN)/mypy auditor

unit: install-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
