# One-command entry points for a fresh clone: each creates .venv on first use.
# Only python3 (3.11+) is needed; SQLite is the default database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint install clean

demo: $(INSTALLED)  ## Migrate, seed a demo city, print logins, serve on http://127.0.0.1:8000
	$(BIN)/housing demo

test: $(INSTALLED)  ## The whole test suite (PostgreSQL too when HOUSING_TEST_DATABASE_URL is set)
	$(BIN)/pytest

lint: $(INSTALLED)  ## ruff and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

clean:
	rm -rf $(VENV) housing.db housing.db-wal housing.db-shm .pytest_cache .ruff_cache
