# idgraph: every entry point a developer or CI needs. `make demo` and `make test` install first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
TOOLS_VENV := .venv-tools
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS_VENV)/.installed
DEMO_LAKE ?= demo-lake
PYTEST_ARGS ?=

# PYSPARK_PYTHON, SPARK_LOCAL_IP, OMP_WAIT_POLICY, …: each Python entry point sets them
# (idgraph/core/settings/process_env.py), so `idgraph …` run without make behaves the same.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/$(TOOLS_VENV)/bin:$(PATH)

.PHONY: install install-tools demo test test-fast lint format bench eval build-emr clean help

help:
	@echo "make demo | test | test-fast | lint | bench | eval | install | build-emr | clean"

# Idempotent: re-runs only when the lock files or pyproject change.
install: $(STAMP)
$(STAMP): requirements/main.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/main.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# checkov pins its own world of dependencies: it gets a venv of its own.
install-tools: $(TOOLS_STAMP)
$(TOOLS_STAMP): requirements/tools.lock
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements/tools.lock
	@touch $@

demo: install
	$(BIN)/idgraph demo --lake $(DEMO_LAKE)

test: install install-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: the unit tests that start no JVM (marked `spark` or using its session)
# and no end-to-end run (`slow`); well under two minutes. `make test` still runs everything.
test-fast: install install-tools
	$(BIN)/python -m pytest tests/unit -m "not slow and not spark" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layering: core <- stages <- runner and CLI (docs/architecture.md)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m benchmarks

eval: install
	$(BIN)/python -m benchmarks.evaluate

build-emr: install
	$(BIN)/python -m idgraph.build_emr --out dist

clean:
	rm -rf $(DEMO_LAKE) dist build .pytest_cache spark-warehouse metastore_db
