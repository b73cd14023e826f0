# jianfu — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export JIANFU_WAREHOUSE ?= $(CURDIR)/warehouse/jianfu.duckdb
export JIANFU_LANDING ?= $(CURDIR)/data/sample/landing
# The bundled sample is synthetic: it may use the documented development masking key. Production sets
# JIANFU_MASK_KEY (and optionally JIANFU_PRODUCT_KEY_<TIER>) and leaves JIANFU_ENV unset.
export JIANFU_ENV ?= dev
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: setup run test test-times lint ui sample bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI, containers) every process would
# otherwise compile Dagster, GX, polars… from source on each import (~6 CPU-s per step process or CLI call).
$(VENV)/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --locked --inexact --quiet --extra synth --compile-bytecode
	touch $@

setup: $(VENV)/.synced  ## create the virtualenv and install the locked dependencies

run: setup  ## run the main job end to end on the bundled sample and print a summary
	$(BIN)/jianfu run

test: setup  ## run the test suite on every core (pytest-xdist; shared warehouses stay on one worker, see tests/conftest.py)
	$(BIN)/pytest -n auto --dist loadgroup --durations=15

test-times: setup  ## the test suite, recording each xdist group's seconds: the longest are handed out first
	$(BIN)/pytest -n auto --dist loadgroup --group-seconds tests/xdist_group_seconds.json

lint: setup
	$(BIN)/ruff check assets pipelines tests benchmarks synth
	$(BIN)/ruff format --check assets pipelines tests benchmarks synth

ui: setup  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m pipelines.definitions

sample: setup  ## regenerate the bundled sample landing zone (deterministic)
	rm -rf data/sample
	$(BIN)/jianfu generate --preset default --out data/sample

clean:
	rm -rf $(VENV) warehouse/*.duckdb warehouse/staging warehouse/published .dagster_home/storage .dagster_home/history .dagster_home/schedules .dagster_home/logs
