# Two commands do everything on a fresh machine:  make run  and  make test.
# Any Python from 3.11 on:  make run PYTHON=python3.13  (a change of Python makes .venv again).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP := $(VENV)/.installed-python$(PYTHON_VERSION)

.PHONY: run demo test lint bench install browser screens engine image clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
		|| { echo "Mission Shakti needs Python 3.11 or newer: make run PYTHON=python3.12, say" >&2; exit 1; }
	$(PYTHON) -m venv $(if $(filter-out $(STAMP),$(wildcard $(VENV)/.installed-*)),--clear) $(VENV)
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

## make test: install, lint, type-check, then every test against real NATS and databases, the image and
## the compose stack included (a Docker engine is started when none answers: see `make engine`)
test: $(STAMP) lint browser engine
	$(BIN)/pytest $(PYTEST_ARGS)

## make browser: Debian's chromium for the web front's browser tests (Playwright drives it; it never
## downloads a browser of its own), and the Noto fonts the style sheet names, so that the Hindi pages'
## screenshots show Devanagari (and the bell) rather than empty boxes
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list | grep -q "Noto Sans Devanagari"; } || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-core fonts-noto-color-emoji; }

## make screens: the screenshots of docs/platform.md (docs/screens/), taken by the role-day browser
## walks, then made small with pngquant (Debian's package) when it is installed
screens: $(STAMP) browser
	rm -f docs/screens/*.png
	SHAKTI_DOC_SCREENS=docs/screens $(BIN)/pytest tests/test_roleday_browser.py tests/test_web_agency_browser.py -q -p no:cacheprovider
	@command -v pngquant >/dev/null 2>&1 && pngquant --force --skip-if-larger --ext .png 64 docs/screens/*.png || true

## make engine: Debian's Docker engine, compose client and debootstrap, for the image tests
## (tests/images.py starts the engine on a socket of its own and builds the images from Debian's packages),
## and nginx, which runs the gateway's configuration in front of a test platform
engine:
	@{ command -v dockerd && command -v docker-compose && command -v debootstrap \
		&& PATH="$$PATH:/usr/sbin" command -v nginx; } >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends docker.io docker-compose debootstrap nginx-light; }

## make image: the image of deploy/Dockerfile from wheels of this Python (mission-shakti:latest); BASE
## must have the same Python version (default: the official python image of it)
image:
	rm -rf build/wheels
	$(PYTHON) -m pip wheel --quiet --wheel-dir build/wheels .
	docker build -f deploy/Dockerfile --build-arg BASE=$${BASE:-python:$(PYTHON_VERSION)-slim-bookworm} \
		-t mission-shakti:latest .

lint: $(STAMP)
	$(BIN)/ruff check shared services shakti tests bench deploy conftest.py
	$(BIN)/ruff format --check shared services shakti tests bench deploy conftest.py
	$(BIN)/mypy shared services shakti tests bench deploy conftest.py

## make bench: the benchmarks under bench/ (figures, not pass/fail)
bench: $(STAMP)
	$(BIN)/python -m bench.eventstore

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache
