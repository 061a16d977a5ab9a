# Every target builds .venv from pyproject.toml when it is missing or older than pyproject.toml,
# so a fresh clone needs nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tally-installed

.PHONY: venv dev test lint unit bench chaos drain clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python scripts/dev.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: $(STAMP)
	$(BIN)/pytest $(ARGS)

test: lint unit

bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(ARGS)

# The reliability scenarios at larger sizes, e.g. make chaos ARGS='--users 500 --scenarios kill,concurrent'
chaos: $(STAMP)
	$(BIN)/python scripts/chaos.py $(ARGS)

drain: $(STAMP)
	$(BIN)/python scripts/drain.py $(ARGS)

clean:
	rm -rf $(VENV) .tally .mypy_cache .pytest_cache .ruff_cache
