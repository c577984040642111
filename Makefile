# modelops — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp

# Embedded defaults for local use. Tests set their own temporary homes (tests/conftest.py).
AIRFLOW_PORT ?= 8080
export MODELOPS_HOME ?= $(CURDIR)/.modelops
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__API__PORT := $(AIRFLOW_PORT)
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL := http://localhost:$(AIRFLOW_PORT)/execution/
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS ?= admin:admin
# Who may change the registry. `dag_test` is the user of `dag.test()` runs (the demo); `admin` is the UI login.
export MODELOPS_ROLES ?= admin:*;airflow:register,promote,approve,rollback;dag_test:register,promote,rollback
# pyspark workers must run the venv's interpreter, whatever python is first on PATH.
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(BIN)/python

PYTEST_ARGS ?=

.PHONY: help setup demo test lint airflow bench clean
help:
	@echo "make demo     set up, generate data and run the platform's DAGs on embedded defaults"
	@echo "make test     set up and run lint, type checks and the test suite"
	@echo "make airflow  start 'airflow standalone' on this project's DAGs (UI at http://localhost:$(AIRFLOW_PORT))"
	@echo "make lint     ruff, mypy, import-linter"
	@echo "make bench    benchmarks (ratios against named baselines)"

# Re-installs only when pyproject.toml or constraints.txt changed (the stamp is newer otherwise).
setup: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

demo: setup
	$(BIN)/python -m modelops_airflow.demo

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

airflow: setup
	$(BIN)/airflow db migrate >/dev/null
	@echo "Airflow UI: http://localhost:$(AIRFLOW_PORT)  (login: see $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated)"
	$(BIN)/airflow standalone

bench: setup
	$(BIN)/python bench/bench_datasets.py --rows 1000000 --json
	$(BIN)/modelops bench inference --rows 2000000 --json

clean:
	rm -rf .modelops .airflow .pytest_cache .mypy_cache .ruff_cache coverage.xml
