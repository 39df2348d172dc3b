# ReturnDesk — `make demo` to try it, `make test` to check it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Find a Python 3.12 or newer: python3.13, python3.12, python3, then pyenv's versions
# (pyenv shims only answer when a version is asked for, so look at the installs directly).
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	  $$(ls -d $$(pyenv root 2>/dev/null || echo /nonexistent)/versions/3.1[2-9]* 2>/dev/null | sort -rV | sed 's|$$|/bin/python3|'); do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v $$c; break; fi; done)

.PHONY: help venv install demo serve worker test test-pg lint format bench load soak messages clean deploy-check

help:
	@echo "make demo    set everything up and run the demo (web server + worker)"
	@echo "make test    run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL)"
	@echo "make lint    ruff, mypy, import-linter, makemigrations --check"
	@echo "make bench   benchmarks (JSON lines)   make soak   longer reliability runs"
	@echo "make load    the mixed load (locust) against gunicorn on PostgreSQL, JSON lines"
	@echo "make serve   web server only            make worker background worker only"

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 or newer found (tried python3.13, python3.12, python3, pyenv versions)." >&2; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv install: $(STAMP)

demo: $(STAMP)
	$(BIN)/returndesk demo

serve: $(STAMP)
	$(BIN)/returndesk migrate --no-input
	$(BIN)/returndesk serve

worker: $(STAMP)
	$(BIN)/returndesk worker

# The whole suite. Browser, data and PostgreSQL-only tests decide for themselves whether they
# run (see tests/conftest.py); RETURNDESK_TEST_STRICT=1 turns a skip for a missing outside
# dependency into a failure.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-pg: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/returndesk} $(MAKE) test

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/returndesk makemigrations --check --dry-run

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The mixed load of benchmarks/locustfile.py (shoppers, stations, inspectors) against
# `returndesk serve` on PostgreSQL with production settings: seeds the data, runs the load for
# a set time, prints p50/p95/p99 per request type and throughput as JSON lines (decision 0020).
# LOAD_ARGS="--seconds 120 --workers 2 --threads 2" to vary it.
load: $(STAMP)
	$(BIN)/python benchmarks/load.py $(LOAD_ARGS)

# Longer runs of the same tests: many more hypothesis examples per property, and the reliability
# tests with many more schemathesis examples and race rounds (RETURNDESK_SOAK=1, read by
# tests/reliability/budget.py; docs/reliability.md). Set DATABASE_URL for the PostgreSQL ones.
soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak RETURNDESK_SOAK=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Extract page text into the gettext catalogues and compile them (needs GNU gettext's
# xgettext and msgfmt, Debian package gettext). The compiled .mo files are committed, so
# running ReturnDesk never needs these tools.
messages: $(STAMP)
	cd src/returndesk && ../../$(BIN)/django-admin makemessages --settings=returndesk.config.settings \
	  --locale en --ignore 'migrations/*' --no-location --no-obsolete
	cd src/returndesk && ../../$(BIN)/django-admin compilemessages --settings=returndesk.config.settings --locale en

# docs/deploy.md proven on this machine, on loopback (deploy/check.py): PostgreSQL, two gunicorn
# behind nginx, two workers, S3 through moto, a mixed load, backup and restore. Not part of
# `make test` or CI (a few minutes). Needs Debian's nginx, openssl and the PostgreSQL client
# tools (installed here when missing) and a PostgreSQL server at 127.0.0.1:5432 (user postgres).
deploy-check: $(STAMP)
	@missing=""; \
	  { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || missing="$$missing nginx"; \
	  command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	  command -v pg_dump >/dev/null 2>&1 || missing="$$missing postgresql-client"; \
	  if [ -n "$$missing" ]; then echo "installing$$missing from Debian"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	$(BIN)/python deploy/check.py $(DEPLOY_CHECK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
