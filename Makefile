# Two commands do everything on a fresh machine:  make run  and  make test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run demo test lint bench install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## make run: install, then start NATS (embedded), the four services and the web front
run: $(STAMP)
	$(BIN)/shakti keys init && $(BIN)/shakti up $(ARGS)

## make demo: the same, with a sample district and synthetic complaints (marked as demo data)
demo: $(STAMP)
	$(BIN)/shakti up --demo $(ARGS)

## make test: install, lint, type-check, then every test against real NATS and databases
test: $(STAMP) lint browser
	$(BIN)/pytest $(PYTEST_ARGS)

## make browser: Debian's chromium for the web front's browser tests (Playwright drives it; it never
## downloads a browser of its own)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check shared services shakti tests bench conftest.py
	$(BIN)/ruff format --check shared services shakti tests bench conftest.py
	$(BIN)/mypy shared services shakti

## make bench: the benchmarks under bench/ (figures, not pass/fail)
bench: $(STAMP)
	$(BIN)/python -m bench.eventstore

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
