# OpenQR: `make run` serves on http://localhost:8080 (SQLite); `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench browser-deps binary binary-onedir clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.testing: requirements-test.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $(VENV)/.runtime $@

## The single binary, dist/openqr: Python, the app and its data in one file (PyInstaller, one-file
## mode; deploy/openqr.spec), built in .venv-build from requirements-build.txt alone. Kept in a
## cache by a hash of its inputs (deploy/build.py), so an unchanged checkout builds in a second.
binary:
	$(PYTHON) deploy/build.py

## The same as one folder, dist/openqr-dir/ (starts faster: nothing to unpack at each start).
binary-onedir:
	$(PYTHON) deploy/build.py --onedir

## Serve dashboard, API and redirects with waitress (migrations are applied at start).
run: $(VENV)/.runtime
	$(BIN)/python app.py

## Debian's chromium for the browser tests (Playwright drives it with executable_path).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

## The whole suite on SQLite, and on PostgreSQL too when OPENQR_TEST_DATABASE_URL is set
## (each PostgreSQL run makes its own database through that URL and drops it at the end).
## The SQLite pass also runs tests/binary/ and the other binary tests against dist/openqr.
test: $(VENV)/.testing browser-deps binary
	@status=0; \
	OPENQR_BINARY=$(CURDIR)/dist/openqr OPENQR_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider tests || status=1; \
	if [ -n "$$OPENQR_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL =="; \
	  OPENQR_TEST_DB=postgresql $(BIN)/pytest -q -p no:cacheprovider tests || status=1; \
	else echo "== PostgreSQL skipped: set OPENQR_TEST_DATABASE_URL=postgresql+psycopg://... to run it too =="; fi; \
	exit $$status

lint: $(VENV)/.testing
	$(BIN)/ruff check openqr app.py tests
	$(BIN)/ruff format --check openqr app.py tests

## Benchmarks (by hand; they print ratios against baselines measured in the same run).
bench: $(VENV)/.testing
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y -qq wrk >/dev/null || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; }; }
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .venv-build .pytest_cache .hypothesis build dist .cache
