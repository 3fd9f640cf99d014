# Two commands for a newcomer: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
HOST ?= 127.0.0.1
VENV ?= .venv
BIN := $(VENV)/bin
# durable-rules 2.0.28 builds on CPython 3.11 and 3.12 only (not 3.13).
PYTHON_CANDIDATES := python3.12 python3.11 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) /usr/bin/python3.12 /usr/bin/python3.11 python3

define find_python
for c in $(PYTHON_CANDIDATES); do \
  p=$$(command -v $$c 2>/dev/null) || continue; \
  if $$p -c 'import sys, venv; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then echo $$p; exit 0; fi; \
done; exit 1
endef

.PHONY: help install install-test system-deps db run test lint clean

help:
	@echo "make run    - install into $(VENV), prepare instance/cpq.db, serve on http://$(HOST):$(PORT) with the order worker"
	@echo "make test   - install test dependencies into $(VENV) and run the whole suite"
	@echo "make install / make lint / make clean"

# System libraries WeasyPrint needs (Pango, HarfBuzz; HarfBuzz-subset makes embedding fonts fast).
SYSTEM_LIBS := libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz.so.0 libharfbuzz-subset.so.0
# Fonts of quote PDFs: Inter (Latin), Noto Sans CJK (Chinese), DejaVu (fallback, monospace hashes).
SYSTEM_FONTS := "Inter" "Noto Sans CJK SC" "DejaVu Sans Mono"
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig fonts-dejavu-core \
  fonts-inter fonts-noto-cjk poppler-utils
system-deps:
	@missing=""; for lib in $(SYSTEM_LIBS); do ldconfig -p 2>/dev/null | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	for font in $(SYSTEM_FONTS); do fc-list "$$font" 2>/dev/null | grep -q . || missing="$$missing font:$${font// /-}"; done; \
	command -v pdftoppm >/dev/null || missing="$$missing pdftoppm"; \
	if [ -n "$$missing" ]; then \
	  echo "cpq: missing system libraries/fonts:$$missing"; \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES); \
	  else \
	    echo "cpq: install them first, e.g. on Debian/Ubuntu: sudo apt-get install $(DEBIAN_PACKAGES)"; exit 1; \
	  fi; \
	fi

$(BIN)/activate:
	@py=$$($(find_python)) || { echo "cpq: needs CPython 3.11 or 3.12 (durable-rules 2.0.28 does not build on 3.13)."; \
	  echo "     Install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.11-venv') and run make again."; exit 1; }; \
	echo "cpq: creating $(VENV) with $$py"; $$py -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

install: system-deps $(VENV)/.installed

install-test: system-deps $(VENV)/.installed-test

db: install
	$(BIN)/cpq db upgrade
	$(BIN)/cpq db seed

# The order worker runs beside gunicorn; Ctrl-C (or gunicorn ending) stops both.
run: install db
	$(BIN)/cpq lint
	@trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	$(BIN)/cpq worker & worker=$$!; \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - wsgi:app

# The whole suite: unit, golden and integration tests in two processes (pytest-xdist), then the
# end-to-end tests alone (they time real servers and browsers). PYTEST_ARGS runs just what it names.
TEST_PROCESSES ?= 2
test: install-test
	@if [ -n "$(PYTEST_ARGS)" ]; then \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	else \
	  $(BIN)/python -m pytest -n $(TEST_PROCESSES) tests/unit tests/golden tests/integration; rc=$$?; \
	  $(BIN)/python -m pytest tests/e2e; e2e=$$?; \
	  if [ $$rc -eq 0 ]; then rc=$$e2e; fi; \
	fi; \
	if [ $$rc -eq 5 ]; then echo "cpq: pytest collected no tests - that is a failure"; fi; exit $$rc

lint: install-test
	$(BIN)/ruff check cpq tests bench wsgi.py
	$(BIN)/cpq lint

clean:
	rm -rf $(VENV) instance/cpq.db .pytest_cache .ruff_cache
