# Newcomer's entry points: `make run` (local demo) and `make test` (the whole suite).
SHELL := /bin/bash
# Lambda runs python3.13: use it when this machine has it (pyenv keeps one), else the default python3.
PYTHON_BOOTSTRAP ?= $(shell for p in $$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python3.13 python3.13 python3; do \
	$$p -c 'import sys' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
# The function's package lives in src/ (SAM's CodeUri); the local stack and tests import it from there.
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)
SAM := $(SAM_VENV)/bin/sam
# checkov pins its own boto3 too: a third environment.
CHECKOV_VENV := .venv-checkov
REGION ?= us-east-1
# SAM CLI and cfn-lint run offline but botocore still wants a region and credentials to exist.
SAM_ENV := AWS_DEFAULT_REGION=$(REGION) AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing SAM_CLI_TELEMETRY=0

.PHONY: venv sam-venv checkov-venv run golden check-references test lint typecheck unit template bench bench-package redrive preview mapping-docs build deploy clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# phonenumberslite replaced phonenumbers: both install the `phonenumbers` package, so remove the old one first.
	$(PY) -m pip uninstall --quiet --yes phonenumbers 2>/dev/null || true
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

sam-venv: $(SAM_VENV)/.installed
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON_BOOTSTRAP) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

checkov-venv: $(CHECKOV_VENV)/.installed
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON_BOOTSTRAP) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

run: venv
	$(PY) -m devstack.run_local $(ARGS)

# Rewrite events/expected/ from what the samples produce now; review `git diff events/expected` after.
golden: venv
	$(PY) -m devstack.golden --update $(ARGS)

# References to documents outside this repository (not yet part of `lint`).
check-references: venv
	$(PY) -m tools.check_self_contained

# Lint includes the self-containment check: no pointer to a document outside this repository.
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m tools.check_self_contained

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest

# cfn-lint, SAM's own translation, and checkov's security scan (each skipped check carries its reason in
# template.yaml; --skip-download keeps checkov offline).
template: venv sam-venv checkov-venv
	$(SAM_ENV) $(VENV)/bin/cfn-lint template.yaml
	$(SAM_ENV) $(SAM) validate --region $(REGION)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

test: lint typecheck unit template

bench: venv
	$(PY) -m bench.run

# The function's dependencies as a Lambda arm64 build installs them (needs the package index).
bench-package: venv
	$(PY) -m bench.package_size --lambda-platform

redrive: venv
	$(PY) -m devstack.redrive_local $(ARGS)

# Offline: what would be sent to TikTok for recorded mParticle data, with this shell's settings.
# FILE: files or folders (quote a glob); ARGS: e.g. --output DIR --show N (see devstack/preview.py).
preview: venv
	@test -n "$(FILE)" || { echo "usage: make preview FILE=path/to/batches.json [ARGS='--output DIR']" >&2; exit 2; }
	$(PY) -m devstack.preview $(FILE) $(ARGS)

# docs/mapping-fields.md is generated from the field tables (mapping/fields.py); a test keeps them equal.
mapping-docs: venv
	$(PY) -m tiktok_connector.mapping.fields > docs/mapping-fields.md

# `sam build` looks for python3.13 on PATH; pyenv may keep it aside (its shim refuses when another
# version is selected), so the folder of the interpreter found above goes first.
BOOTSTRAP_BIN = $(shell $(PYTHON_BOOTSTRAP) -c 'import os, sys; print(os.path.dirname(os.path.realpath(sys.executable)))')
build: sam-venv
	PATH="$(BOOTSTRAP_BIN):$$PATH" $(SAM_ENV) $(SAM) build

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
