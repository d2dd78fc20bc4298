# One-command entry points for a fresh clone: each creates .venv on first use.
# Only python3 (3.11+) is needed; SQLite is the default database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint install clean messages

demo: $(INSTALLED)  ## Migrate, seed a demo city, print logins, serve on http://127.0.0.1:8000
	$(BIN)/housing demo

test: $(INSTALLED)  ## The whole test suite (PostgreSQL too when HOUSING_TEST_DATABASE_URL is set)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)  ## ruff and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

install: $(INSTALLED)

messages: $(INSTALLED)  ## Extract the pages' strings and merge them into the uz, ru and en catalogs
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output -o housing/locale/messages.pot .
	for lang in uz ru en; do \
	  if [ -f housing/locale/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update --no-fuzzy-matching -i housing/locale/messages.pot -d housing/locale -l $$lang; \
	  else \
	    $(BIN)/pybabel -q init -i housing/locale/messages.pot -d housing/locale -l $$lang; \
	  fi; \
	done

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

clean:
	rm -rf $(VENV) housing.db housing.db-wal housing.db-shm .pytest_cache .ruff_cache
