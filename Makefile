# The whole set-up: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test unit e2e bench install clean

# pip is quiet (its progress is hundreds of lines), so say what the pause is.
$(STAMP): pyproject.toml constraints.txt
	@echo "Installing dependencies into $(VENV) (first run, or the pins changed; about a minute)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)
	@echo "Dependencies installed."

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/python -m clinic_app.dev preflight
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile start

# Unit/integration tests run on up to 4 cores (each xdist worker starts its own
# throw-away services); the browser journeys run after them, in one stack.
# ensure_browser finds or installs Chromium first (or stops with what to run); lint-imports
# checks the layer contracts in pyproject.toml and ruff the pyflakes/bugbear rules (both under a
# second) before any test starts.
test: $(STAMP)
	@$(BIN)/python scripts/ensure_browser.py
	$(BIN)/lint-imports --no-logo
	$(BIN)/ruff check --quiet
	$(BIN)/python -m pytest tests -n auto --maxprocesses 4
	$(BIN)/python -m pytest e2e

unit: $(STAMP)
	$(BIN)/lint-imports --no-logo
	$(BIN)/ruff check --quiet
	$(BIN)/python -m pytest tests -n auto --maxprocesses 4

e2e: $(STAMP)
	@$(BIN)/python scripts/ensure_browser.py
	$(BIN)/python -m pytest e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) var/ e2e/artifacts .pytest_cache
