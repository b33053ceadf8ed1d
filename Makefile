# CoAgent — two commands do everything: `make run` and `make test`.
# uv is bootstrapped from PyPI into the user's environment when it is missing.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV_BIN := .venv/bin
export UV_LINK_MODE ?= copy

.PHONY: run test install lint format test-unit test-integration test-e2e status bench clean-data

run: install ## start the embedded stack and the whole fleet (foreground; Ctrl-C stops it)
	$(VENV_BIN)/coagent up

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
