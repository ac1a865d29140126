# Smarketing — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev browser lint fmt worker beat migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

install: $(VENV)/.run-deps
install-dev: $(VENV)/.dev-deps

## run: set up, migrate, seed the demo organisation (once) and serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --leads 2000
	@echo "Smarketing on http://$(HOST):$(PORT)/  (stop with Ctrl-C)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: install what the tests need and run the whole suite
test: install-dev browser
	$(BIN)/pytest

## browser: Debian's Chromium for the browser tests, when missing and installable (never a downloaded browser)
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| echo "Could not install chromium: browser tests will be skipped"; \
	else echo "No $(CHROMIUM) and no way to install it here: browser tests will be skipped"; fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(BIN)/python manage.py migrate --noinput

## worker / beat: with REDIS_URL (and DATABASE_URL) set, the real Celery processes
worker: install
	$(BIN)/celery -A smarketing worker --loglevel INFO

beat: install
	$(BIN)/celery -A smarketing beat --loglevel INFO

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache .ruff_cache
