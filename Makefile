# One target per job. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export COHORT_DATABASE_URL ?= sqlite:///cohort.db

.PHONY: setup system-deps demo serve test lint format typecheck bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages the browser and spreadsheet tests drive (Chromium, LibreOffice Calc).
system-deps:
	@bash scripts/system-deps.sh

demo: setup
	$(BIN)/cohort demo --participants 600 --accounts
	$(BIN)/cohort serve --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/cohort serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	$(BIN)/mypy

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache cohort.db*
