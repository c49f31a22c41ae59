# PointsNet: `make run` serves the network locally, `make test` proves it.
# Both create the virtualenvs they need from nothing but python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# aws-sam-cli pins many packages exactly; it lives in its own virtualenv.
TOOLS := .venv-tools
SAM := $(TOOLS)/bin/sam
SAM_VERSION := 1.170.0
# checkov pins boto3==1.35.49 and aws-sam-cli pins boto3==1.43.108: they cannot share a
# virtualenv, so checkov has its own tools virtualenv beside the SAM CLI's.
CHECKOV_TOOLS := .venv-checkov
CHECKOV := $(CHECKOV_TOOLS)/bin/checkov
CHECKOV_VERSION := 3.3.30
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help dev run test lint format typecheck validate checkov build layer-check unit integration e2e pytest bench soak clean browser

help:
	@echo "make run          start the local network on http://127.0.0.1:$${PORT:-3000}"
	@echo "make test         lint, type-check, validate the template and run every test"
	@echo "make unit | integration | e2e    one layer of tests"
	@echo "make validate     sam validate --lint;  make build: sam build, then make layer-check"
	@echo "make checkov      scan template.yaml (every finding fixed or skipped in it with a reason)"
	@echo "make browser      headless Chromium for the HTML report's tests (apt-get, where missing)"
	@echo "make bench        benchmarks (not part of make test)"
	@echo "make soak         long concurrency and property runs (not part of make test)"
	@echo "make event NAME=earn   a sample of events/, re-signed now (for sam local invoke -e -)"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --upgrade pip
	$(TOOLS)/bin/pip install -q 'aws-sam-cli==$(SAM_VERSION)'
	@touch $@

$(CHECKOV_TOOLS)/.installed:
	$(PYTHON) -m venv $(CHECKOV_TOOLS)
	$(CHECKOV_TOOLS)/bin/pip install -q --upgrade pip
	$(CHECKOV_TOOLS)/bin/pip install -q 'checkov==$(CHECKOV_VERSION)'
	@touch $@

dev: $(BIN)/.installed

# The HTML settlement report's tests render it in headless Chromium (a screenshot and the DOM):
# a machine without Chromium gets Debian's package here, rather than tests that cannot run.
APT_AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ $(APT_AS_ROOT) apt-get update && $(APT_AS_ROOT) apt-get install -y chromium; }

run: dev
	$(BIN)/python -m pointsnet.local

test: lint typecheck validate checkov pytest

# lint-imports checks the architecture contracts in pyproject.toml ([tool.importlinter]).
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: dev
	$(BIN)/mypy

validate: $(TOOLS)/.installed
	$(SAM) validate --lint --region us-east-1

# Offline: --skip-download keeps checkov from fetching its guideline links.
checkov: $(CHECKOV_TOOLS)/.installed
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

build: $(TOOLS)/.installed
	$(SAM) build --region us-east-1
	@$(MAKE) --no-print-directory layer-check

# What sam build put in the layer (shared/Makefile builds it): the domain packages, and none of
# the local runtime, CLI, SDK or credentials code, which stay in the installed package only.
LAYER_PACKAGE := .aws-sam/build/PointsNetLayer/python/pointsnet
# Listed again on purpose (shared/Makefile has the build's list): the check trusts no build.
LAYER_EXCLUDED := local cli cli.py client client.py credentials.py
LAYER_LEFT_OUT_IMPORT := ^[[:space:]]*(from|import)[[:space:]]+pointsnet\.(local|cli|client|credentials)\b|^[[:space:]]*from[[:space:]]+pointsnet[[:space:]]+import[[:space:]].*\b(local|cli|client|credentials)\b
LAYER_REQUIRED := __init__.py observability.py settings.py errors.py signing.py idempotency.py caching.py \
	api auth events imports journal ledger network partners programs rules metrics settlement store \
	webhooks clock.py strict_json.py wiring.py
# The functions' dependencies, pydantic's compiled core built for Lambda's arm64.
LAYER_DEPENDENCIES := aws_lambda_powertools aws_xray_sdk pydantic \
	pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so
layer-check:
	@test -d $(LAYER_PACKAGE) || { echo "layer-check: no $(LAYER_PACKAGE): run make build" >&2; exit 1; }
	@status=0; \
	for name in $(LAYER_EXCLUDED); do \
		if [ -e $(LAYER_PACKAGE)/$$name ]; then \
			echo "layer-check: FAIL: the layer holds pointsnet/$$name" >&2; status=1; fi; \
	done; \
	for name in $(LAYER_REQUIRED); do \
		if [ ! -e $(LAYER_PACKAGE)/$$name ]; then \
			echo "layer-check: FAIL: the layer lacks pointsnet/$$name" >&2; status=1; fi; \
	done; \
	for name in $(LAYER_DEPENDENCIES); do \
		if [ ! -e $(LAYER_PACKAGE)/../$$name ]; then \
			echo "layer-check: FAIL: the layer lacks $$name" >&2; status=1; fi; \
	done; \
	if ! ls $(LAYER_PACKAGE)/__pycache__/__init__.cpython-311.pyc >/dev/null 2>&1; then \
		echo "layer-check: FAIL: the layer's pointsnet has no CPython 3.11 bytecode" >&2; status=1; fi; \
	if grep -rlE --include='*.py' "$(LAYER_LEFT_OUT_IMPORT)" $(LAYER_PACKAGE) >&2; then \
		echo "layer-check: FAIL: the modules above import code the layer leaves out" >&2; status=1; fi; \
	exit $$status
	@echo "layer-check: $(LAYER_PACKAGE) holds $(words $(LAYER_REQUIRED)) domain modules and packages, none of: $(LAYER_EXCLUDED)"

pytest: dev browser
	$(BIN)/pytest -m "not slow and not solo" -n auto --dist loadgroup
	$(BIN)/pytest -m "solo and not slow"

unit: dev
	$(BIN)/pytest tests/unit

integration: dev browser
	$(BIN)/pytest tests/integration

e2e: dev
	$(BIN)/pytest tests/e2e

bench: dev
	$(BIN)/python -m bench

.PHONY: event-schemas
# Regenerate the committed JSON Schemas of the events (docs/events/).
event-schemas: dev
	$(BIN)/python -m pointsnet.events.schemas docs/events

.PHONY: event
# Print a sample event of events/ (NAME=earn), re-signed now with a key of .pointsnet/local.json.
event: dev
	@$(BIN)/python -m pointsnet.local.samples $(NAME)

.PHONY: openapi
# Regenerate the committed copy of the document GET /v1/openapi.json serves.
openapi: dev
	$(BIN)/python -m pointsnet.api.openapi docs/openapi.json

soak: dev
	$(BIN)/pytest -m slow

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV_TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache .pointsnet
