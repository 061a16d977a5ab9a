# Every target builds .venv from pyproject.toml when it is missing or older than pyproject.toml,
# so a fresh clone needs nothing but a Python Vercel runs (3.12 or newer): PATH is searched, then
# pyenv (tooling/find_python.sh); `make PYTHON=/path/to/python3.12` names one.
PYTHON ?= $(shell sh tooling/find_python.sh 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tally-installed
# Core's unit tests and the app's import also run on the next Python Vercel serves.
PY313_VENV := .tally/venv-3.13

.PHONY: venv dev test lint unit bench chaos property drain token vercel-build vercel test-3.13 clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { sh tooling/find_python.sh >/dev/null; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
		{ echo "make: $(PYTHON) is older than Python 3.12, which Vercel needs"; exit 1; }
	@# A venv made by an older interpreter (the project once allowed 3.11) is made again.
	@test ! -x $(BIN)/python || $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
		{ echo "make: $(VENV) runs Python < 3.12; making it again"; rm -rf $(VENV); }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# Through tooling/interruptible.py: Ctrl-C here is one line, not pip's traceback.
	$(BIN)/python tooling/interruptible.py 'installing $(VENV)' $(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python tooling/interruptible.py 'installing $(VENV)' $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# make dev ARGS='--port 8001' (see scripts/dev.py --help); writes .tally/dev.env for the rest.
dev: $(STAMP)
	$(BIN)/python scripts/dev.py $(ARGS)

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

# The rollups' property test at length: 400 random plans of up to 40 writes, on Postgres and SQLite.
property: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -p no:randomly tests/core/writes/test_rollups_property.py $(ARGS)

drain: $(STAMP)
	$(BIN)/python scripts/drain.py $(ARGS)

# make token ARGS='alice' (a user token), ARGS='--cron-secret' or ARGS='--admin-secret'
token: $(STAMP)
	@$(BIN)/python scripts/token.py $(ARGS)

# The real `vercel build` (pinned CLI, local throwaway project) and the checks of its output.
vercel-build: $(STAMP)
	$(BIN)/python scripts/vercel_build.py $(ARGS)

# The same pinned CLI for everything else, e.g. make vercel ARGS='link' or ARGS='deploy --prod'
vercel: $(STAMP)
	@$(BIN)/python scripts/vercel.py $(ARGS)

# The app's import and core's unit tests on Python 3.13, the next version Vercel serves (make test
# runs on 3.12, the default). .ci/run runs it after make test.
test-3.13: $(STAMP)
	@py=$$(sh tooling/find_python.sh 3.13) || exit 1; \
		test -x $(PY313_VENV)/bin/python || $(BIN)/uv venv --quiet --python "$$py" $(PY313_VENV)
	$(BIN)/uv pip install --quiet --python $(PY313_VENV)/bin/python -e '.[dev]'
	$(PY313_VENV)/bin/python -c 'import sys, api.index; print("api.index imports on", sys.version.split()[0])'
	$(PY313_VENV)/bin/pytest -q -p no:cacheprovider tests/core $(ARGS)

clean:
	rm -rf $(VENV) .tally .vercel .mypy_cache .pytest_cache .ruff_cache
