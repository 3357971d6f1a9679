# Feedline: two commands for a new user (`make demo`, `make test`); the rest are helpers.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# checkov in its own venv: it pins old packaging/networkx that clash with the project's venv.
CHECKOV_VERSION := 3.3.30
VENV_CHECKOV := .venv-checkov
CHECKOV_INSTALLED := $(VENV_CHECKOV)/.installed-$(CHECKOV_VERSION)

.PHONY: demo test test-e2e bench bench-e2e soak bundle lock venv clean local-up local-down

venv: $(INSTALLED)

# The venv is built from the lock file by the targets that need it; nothing is installed by hand.
# Bytecode is compiled at install (pip does it, uv does not by default): with PYTHONDONTWRITEBYTECODE
# set, as in many shells and images, nothing would ever cache it, and every Airflow task and Beam
# job would compile its imports from source (the job's imports: 4.5 s -> 1.6 s here).
$(INSTALLED): requirements-lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements-lock.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

demo: $(INSTALLED)
	$(BIN)/feedline demo

# Layer contracts first (pyproject.toml [tool.importlinter]), then every test (tests/infra runs checkov).
test: $(INSTALLED) $(CHECKOV_INSTALLED)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# Only the end-to-end suite (part of `make test`): the real scheduler, triggerer, DAG processor,
# API server and the event function on free ports, every start path checked in the tables.
test-e2e: $(INSTALLED)
	$(BIN)/python -m pytest tests/e2e

bench: $(INSTALLED)
	$(BIN)/python bench/beam_vs_duckdb.py

# Drop -> reporting updated for 10k and 1M transactions rows through the local stack's real Airflow,
# split into Beam, BigQuery and orchestration; last line e2e_10k_s=… e2e_1m_s=… (feedline.local.bench_e2e).
bench-e2e: $(INSTALLED)
	$(BIN)/feedline bench-e2e

# 200 files (2M rows, bad rows and bad files) dropped at once on the local stack and swept through
# its real Airflow; the last line counts them from the tables (see plugins/feedline/local/soak.py).
soak: $(INSTALLED)
	$(BIN)/feedline soak

local-up: $(INSTALLED)
	$(BIN)/feedline local up

local-down: $(INSTALLED)
	$(BIN)/feedline local down

# Re-pin requirements-lock.txt after editing requirements-dev.in or requirements.txt.
lock: $(INSTALLED)
	$(BIN)/uv pip compile --python-version 3.11 --no-header requirements-dev.in -o requirements-lock.txt

clean:
	-$(BIN)/feedline local down
	rm -rf .local build

# --- infrastructure: terraform/, cloudbuild.yaml, the Composer bundle --------------------------
.PHONY: infra-check

# The exact tree Cloud Build syncs to the Composer bucket: build/bundle/{dags,plugins,data}.
BUNDLE_DIR ?= build/bundle
bundle:
	$(PYTHON) tools/bundle.py --out $(BUNDLE_DIR)

# Offline checks of terraform/ and cloudbuild.yaml (tools/infra/): HCL parse, terraform fmt, checkov
# (own venv, built below; buckets, basic roles, authoritative IAM, alert channels), IAM allow-lists,
# API dependencies, contract/dataset -> BigQuery wiring, Cloud Build schema.
infra-check: $(INSTALLED) $(CHECKOV_INSTALLED)
	cd tools && ../$(BIN)/python -m infra

# A new pin is a new stamp file, so changing CHECKOV_VERSION rebuilds the venv.
$(CHECKOV_INSTALLED):
	$(PYTHON) -m venv --clear $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@
