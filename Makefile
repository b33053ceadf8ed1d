# CoAgent — two commands do everything: `make run` and `make test`.
# uv is bootstrapped from PyPI into the user's environment when it is missing.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV_BIN := .venv/bin
export UV_LINK_MODE ?= copy
# Every service process and test run imports a large tree: cache its bytecode (outside the
# source tree) even where the environment disables writing it, or each start recompiles it all.
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPYCACHEPREFIX ?= $(CURDIR)/.cache/pycache

.PHONY: run run-traces traces-viewer test install lint format test-unit test-integration test-e2e status bench clean-data

# The trace viewer of `make run-traces`: large, so installed on demand as an isolated uv tool.
PHOENIX_VERSION := 20.26.1

run: install ## start the embedded stack and the whole fleet (foreground; Ctrl-C stops it)
	$(VENV_BIN)/coagent up

run-traces: install traces-viewer ## `make run` plus the Phoenix trace viewer every service exports to
	PATH="$$($(UV) tool dir --bin):$$PATH" $(VENV_BIN)/coagent up --traces

traces-viewer: $(UV)
	$(UV) tool install --quiet --python 3.11 arize-phoenix==$(PHOENIX_VERSION)

status: install
	$(VENV_BIN)/coagent status

test: install lint ## every check and every test tier
	$(VENV_BIN)/pytest

install: $(UV)
	$(UV) sync --locked --quiet

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --user --quiet --break-system-packages uv

lint: install
	$(UV) lock --check
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .
	$(VENV_BIN)/mypy libs/*/src services/*/src tools/cli/src
	$(VENV_BIN)/lint-imports

format: install
	$(VENV_BIN)/ruff format .
	$(VENV_BIN)/ruff check --fix .

test-unit: install
	$(VENV_BIN)/pytest -m "not integration and not e2e"

test-integration: install
	$(VENV_BIN)/pytest -m integration

test-e2e: install
	$(VENV_BIN)/pytest -m e2e

clean-data: ## delete the embedded servers' data (.data/)
	rm -rf .data
