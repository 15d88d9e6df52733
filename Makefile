# socialcrm: `make run` for a clickable demo, `make test` for the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

.PHONY: install run test test-sqlite test-scaleout test-deps lint format typecheck bench clean lock

install: $(STAMP)  ## create or update .venv from the lock file (idempotent)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)
	@echo "installed into $(VENV)"

lock:  ## re-pin every dependency from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python $(BIN)/python -q

run: install  ## migrate, load demo data, start API + UI + worker + sandbox on :8000
	$(BIN)/socialcrm serve --demo --host 127.0.0.1 --port 8000

test-deps:  ## what the browser tests need from Debian (chromium)
	@scripts/ensure-test-deps.sh

test: install test-deps  ## the whole suite: SQLite and PostgreSQL + Redis, side by side
	@scripts/test-all.sh

test-sqlite: install
	env -u SOCIALCRM_TEST_POSTGRES_URL $(BIN)/pytest -q -p no:cacheprovider --ignore=tests/atproto

test-scaleout: install
	@scripts/test-scaleout.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
