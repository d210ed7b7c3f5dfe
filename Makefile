# Skolehub: `make run` (the main job on the sandbox) and `make test` (the whole suite).
# Both work on a fresh machine: they create .venv from the lock file and install the
# Debian packages (slapd, ldap-utils, PostgreSQL, a JDK and Maven) that are missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
HUB := $(BIN)/hub

export HUB_VAR_DIR ?= $(CURDIR)/var
export HUB_ENV_FILE ?= $(HUB_VAR_DIR)/sandbox/secrets.env
export AIRFLOW_HOME ?= $(HUB_VAR_DIR)/airflow
export AIRFLOW__CORE__DAGS_FOLDER ?= $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER ?= $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES ?= False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN ?= sqlite:///$(AIRFLOW_HOME)/airflow.db

DEBIAN_PACKAGES := slapd ldap-utils postgresql redis-server openjdk-17-jdk-headless maven chromium chromium-driver
PYTEST_ARGS ?=
# Celery workers of `make airflow` (0: the LocalExecutor).
WORKERS ?= 0

.PHONY: help install system-deps run test lint schemas bench down clean lock airflow airflow-down

help:
	@echo "make run    - install, start Kafka and the sandbox school owner, run the main job"
	@echo "make test   - install what the tests need and run the whole suite"
	@echo "make bench  - run the benchmarks in bench/ (needs make run's services or starts them)"
	@echo "make down   - stop the local Kafka broker and the sandbox"
	@echo "make airflow - start Kafka, the sandbox and a local Airflow (UI at :8080); Ctrl-C stops it"
	@echo "make airflow WORKERS=2 - the same on the CeleryExecutor with two Celery workers"
	@echo "make airflow-down - stop a local Airflow started elsewhere or with --detach"

$(VENV)/.installed: requirements/lock.txt pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@test -x $(BIN)/python || uv venv --quiet --python python3.11 $(VENV)
	VIRTUAL_ENV=$(VENV) uv pip sync --quiet --require-hashes requirements/lock.txt
	VIRTUAL_ENV=$(VENV) uv pip install --quiet --no-deps -e .
	@touch $@

install: $(VENV)/.installed

# Debian packages the sandbox and the tests run: slapd for the directory, PostgreSQL for
# the production store path, Redis for the Celery broker of the scale-out test, a JDK and
# Maven for the local Kafka broker, Chromium and its WebDriver for the browser test of the
# Airflow plugin (no browser download at run time).
system-deps:
	@missing=""; \
	command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || missing="$$missing slapd"; \
	command -v ldapadd >/dev/null 2>&1 || missing="$$missing ldap-utils"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run: install system-deps
	$(HUB) kafka up
	$(HUB) sandbox up
	$(HUB) run

# A local Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite in
# var/airflow) running the DAGs against Kafka and the sandbox, in the foreground: it prints
# the URL and the logins, and Ctrl-C stops it. Kafka and the sandbox keep running (`make down`).
# HUB_AIRFLOW_PORT=8081 make airflow picks another port; `make airflow WORKERS=2` runs the
# CeleryExecutor with two Celery workers and a local Redis instead (docs/operations.md).
airflow: install system-deps
	$(HUB) kafka up
	$(HUB) sandbox up
	$(HUB) airflow up --workers $(WORKERS)

# Stops a detached Airflow (`hub airflow up --detach`) or one running in another terminal;
# Kafka and the sandbox stay up for `make run` and `make airflow` (`make down` stops them).
airflow-down:
	-$(HUB) airflow down

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m schemas.export --check
	$(BIN)/python -m connectors.registry --check

test: install system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Regenerate both locks from pyproject.toml: the one the tests and `make run` install, and
# the docker image's (CeleryExecutor, no test tools), constrained to the same versions.
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes
lock:
	uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements/lock.txt
	uv pip compile pyproject.toml --extra deploy -c requirements/lock.txt $(LOCK_FLAGS) \
	  -o requirements/deploy-lock.txt

schemas: install
	$(BIN)/python -m schemas.export

bench: install system-deps
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/lms.py
	$(BIN)/python bench/mdm.py
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/freshness.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/scale.py --people 20000,100000

down:
	-$(HUB) sandbox down
	-$(HUB) kafka down

clean: down
	rm -rf $(HUB_VAR_DIR) $(VENV)
