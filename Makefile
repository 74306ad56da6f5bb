# Stalker Guide — `make run` serves the site, `make test` runs the suite.
# Both set everything up first: a virtualenv in .venv with Python >= 3.12 and
# the pinned requirements. Nothing needs installing by hand.

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Development defaults; the environment overrides them (see README).
export DEBUG ?= true

.PHONY: run test setup chromium migrate load lint bench clean

run: setup migrate load
	@# What pages read, stored again where this code writes it otherwise (README).
	$(PY) manage.py render_text --verbosity 0
	@# A first version in each guide's history (editors compare and revert to it);
	@# guides that already have one are skipped, so running this again is harmless.
	$(PY) manage.py createinitialrevisions films.Film films.Person films.Theme films.Genre films.Country films.Language --comment "As loaded from fixtures/." --verbosity 0
	@echo ""
	@echo "Stalker Guide is at http://$(HOST):$(PORT)/  (the Stalker guide: http://$(HOST):$(PORT)/films/stalker-1979/)"
	@echo "Editors: create an account (README, 'Editing guides') and sign in at http://$(HOST):$(PORT)/admin/"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs on every core (pytest-xdist), each file's tests on one worker
# and the tests of the shipped guides together (tests/conftest.py), in
# Django's order; TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= auto

test: setup chromium
	$(PY) -m pytest --numprocesses=$(TEST_WORKERS) --dist=loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The browser tests (tests/browser/) drive Debian's Chromium, never a browser
# that `playwright install` would download. Installed here when missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium from Debian for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "error: the browser tests need Debian's Chromium: sudo apt-get install chromium" >&2; exit 1; \
		fi; \
	fi

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@python=""; \
	for candidate in "$$PYTHON" python3.13 python3.12 python3 python; do \
		[ -n "$$candidate" ] || continue; \
		if command -v "$$candidate" >/dev/null 2>&1 && \
		   "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
			python="$$candidate"; break; \
		fi; \
	done; \
	if [ -z "$$python" ]; then \
		echo "error: Stalker Guide needs Python 3.12 or newer (3.13 preferred); none was found on PATH." >&2; \
		echo "       Install one (e.g. 'pyenv install 3.13') or set PYTHON=/path/to/python3.13." >&2; \
		exit 1; \
	fi; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Removing $(VENV): it was made with a Python older than 3.12."; rm -rf $(VENV); \
	fi; \
	[ -x $(PY) ] || { echo "Creating $(VENV) with $$($$python --version)"; "$$python" -m venv $(VENV); }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

migrate: setup
	$(PY) manage.py migrate --verbosity 0

load: setup
	$(PY) manage.py load_guides

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	@# Every benchmark runs even if one misses its target; the exit status says so.
	@status=0; for b in bench/*.py; do $(PY) $$b || status=1; done; exit $$status

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
