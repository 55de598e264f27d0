# kosmo-idp: `make run` starts the identity provider and the demo portal, `make test` runs every test,
# `make lint` checks style and types, `make bench` prints the performance table of benchmarks/README.md.
#
# Installs go into .venv; a stamp file per install, keyed on pyproject.toml, makes the second
# run fast and a changed pyproject.toml reinstall.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test
NODE_DIR := tests/interop/node
NODE_INSTALLED := $(NODE_DIR)/node_modules/.installed
BENCH_NODE_DIR := benchmarks/node
BENCH_NODE_INSTALLED := $(BENCH_NODE_DIR)/node_modules/.installed
BENCH_SCALE ?= default
BENCH_BACKENDS ?= sqlite,postgres
# A society's step shipped as its own package; `make lint` type-checks it against the step contract.
PLUGIN_EXAMPLE := tests/fixtures/hello-plugin/kosmo_hello

.PHONY: run test lint bench clean

## run: set up on first use, then serve http://localhost:8080 (IdP) and http://localhost:8081 (portal)
run: $(INSTALLED)
	$(BIN)/python scripts/run_demo.py

## test: install the test extras (and the interop tests' npm packages) and run the whole suite
test: $(INSTALLED_TEST) $(if $(wildcard $(NODE_DIR)/package.json),$(NODE_INSTALLED)) $(BENCH_NODE_INSTALLED)
	$(BIN)/python -m pytest

## lint: ruff's checks over the code and the tests, and mypy's types over the code (CI runs it before the tests)
lint: $(INSTALLED_TEST)
	$(BIN)/ruff check idp tests
	$(BIN)/mypy idp $(PLUGIN_EXAMPLE)

## bench: issue 12's figures as one table (BENCH_SCALE=tiny|default|full, BENCH_BACKENDS=sqlite,postgres)
bench: $(INSTALLED) $(BENCH_NODE_INSTALLED)
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python -m benchmarks.bench --backends $(BENCH_BACKENDS)

## clean: forget the virtual environment, the demo database, keys and mails, and caches
clean:
	rm -rf $(VENV) var $(NODE_DIR)/node_modules $(BENCH_NODE_DIR)/node_modules .pytest_cache .hypothesis *.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(INSTALLED_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(INSTALLED)

$(NODE_INSTALLED): $(wildcard $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json)
	cd $(NODE_DIR) && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	mkdir -p $(@D) && touch $@

$(BENCH_NODE_INSTALLED): $(BENCH_NODE_DIR)/package.json $(BENCH_NODE_DIR)/package-lock.json
	cd $(BENCH_NODE_DIR) && npm ci --no-audit --no-fund
	touch $@
