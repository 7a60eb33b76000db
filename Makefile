# trainq — developer entry points. `make demo` and `make test` work on a fresh machine:
# each installs what it needs (Debian packages when root, a venv, the Go builds).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

LOCAL   := k8s/local
VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST  := $(VENV)/bin/pytest
RUFF    := $(VENV)/bin/ruff
# Integration tests share one control plane; independent ones run in parallel.
PYTEST_WORKERS ?= 2
# What every team's jobs run as under `make up` / `make demo` (BACKEND=trainjob: Kubeflow
# Trainer v2 TrainJobs; unset: each team's own `backend`, PyTorchJob by default).
BACKEND ?=

.PHONY: help venv trainer-deps browser-deps ui-vendor lint fmt build helm test-deploy bench redis-up redis-down cluster-up cluster-down cluster-status \
        up down demo demo-preempt test test-unit test-integration test-trainers services-down clean chaos

help:
	@echo "make demo          start the control plane, Redis and trainq; run a sample job end to end"
	@echo "                   (BACKEND=trainjob: as a Kubeflow Trainer v2 TrainJob)"
	@echo "make demo-preempt  a real training job preempted mid-training resumes with identical weights"
	@echo "make test          the whole suite against real Redis and the local control plane"
	@echo "make test-unit     tests that need no services (seconds)"
	@echo "make cluster-up    start the local control plane (kubeconfig: .local/kubeconfig)"
	@echo "make cluster-down  stop it and remove its state"
	@echo "make up / down     start / stop Redis-backed trainq (API, workers, watcher)"
	@echo "make bench         benchmarks beside their baselines (benchmarks/RESULTS.md)"
	@echo "make chaos         1,000 jobs while faults land (stops the apiserver, etcd, operator: run alone)"
	@echo "make lint          ruff"
	@echo "make ui-vendor     fetch the dashboard's pinned front-end files again (npm), checksums checked"

# The last step installs the project itself (editable, its pins come from requirements.txt):
# the `trainq` command in $(VENV)/bin (docs/cli.md).
$(VENV)/.stamp: requirements.txt pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	@touch $@

venv: $(VENV)/.stamp

# torch is large: installed only for the trainer tests and the real-training demo.
$(VENV)/.trainer-stamp: $(VENV)/.stamp trainers/requirements.txt
	$(VENV)/bin/pip install -q -r trainers/requirements.txt
	@touch $@

trainer-deps: $(VENV)/.trainer-stamp

# The dashboard's browser test: Playwright (pip) drives Debian's Chromium, installed here when
# root (Playwright's own browser downloads are never used).
BROWSER_REQ := tests/integration/ui/requirements.txt
$(VENV)/.browser-stamp: $(VENV)/.stamp $(BROWSER_REQ)
	$(VENV)/bin/pip install -q -r $(BROWSER_REQ)
	@touch $@

browser-deps: $(VENV)/.browser-stamp
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
	@command -v chromium >/dev/null || echo "chromium missing (apt-get install chromium): the browser test skips"

# The dashboard's front-end dependencies (wrapper/ui/vendor.json): fetched again with npm pack,
# each tarball's sha512 and each file's sha256 checked, into wrapper/ui/static/vendor/.
ui-vendor: venv
	$(PY) -m wrapper.ui.vendor

lint: venv
	$(RUFF) check .
	$(RUFF) format --check .

fmt: venv
	$(RUFF) format .
	$(RUFF) check --fix .

build:
	$(LOCAL)/build.sh

helm:
	$(LOCAL)/build.sh helm

redis-up:
	$(LOCAL)/redis-up.sh

redis-down:
	$(LOCAL)/redis-down.sh

cluster-up: venv
	$(if $(filter trainjob,$(BACKEND)),TRAINQ_TRAINER_V2=1) $(LOCAL)/cluster-up.sh

cluster-down:
	$(LOCAL)/cluster-down.sh

cluster-status:
	$(LOCAL)/cluster-status.sh

up: venv redis-up
	$(if $(BACKEND),TRAINQ_BACKEND=$(BACKEND)) $(LOCAL)/trainq-up.sh

down:
	$(LOCAL)/trainq-down.sh

demo: venv trainer-deps cluster-up up
	$(PY) $(LOCAL)/demo.py

# A real training job preempted mid-training by a higher-priority one resumes from its
# checkpoint and ends with the weights of an uninterrupted run (prints the timeline).
demo-preempt: venv trainer-deps cluster-up up
	$(PY) $(LOCAL)/demo_preempt.py

test-unit: venv
	$(PYTEST) -q tests/unit tests/nodeagent -m "not integration"

test-trainers: trainer-deps
	$(PYTEST) -q tests/trainers

test-deploy: venv cluster-up helm
	source $(LOCAL)/env.sh && $(PYTEST) -q -n $(PYTEST_WORKERS) --dist loadfile tests/deploy

test-integration: venv browser-deps redis-up cluster-up
	source $(LOCAL)/env.sh && $(PYTEST) -q -n $(PYTEST_WORKERS) --dist loadfile tests/integration

# The whole suite: one pytest run so its closing line counts everything.
test: venv trainer-deps browser-deps redis-up cluster-up helm
	source $(LOCAL)/env.sh && $(PYTEST) -q -n $(PYTEST_WORKERS) --dist loadfile tests

# Benchmarks beside their baselines, one run (benchmarks/RESULTS.md); the side-by-side with
# Kueue needs Kueue built (cached; the first build takes minutes), started only for it.
bench: venv trainer-deps redis-up cluster-up
	source $(LOCAL)/env.sh && $(LOCAL)/build.sh kueue && $(PY) -m benchmarks

# 1,000 jobs from 3 teams while trainq's processes, Redis, the apiserver, etcd, the operator
# and a node fail (tests/chaos); needs the control plane to itself. CHAOS_ARGS: e.g. --seed 2.
chaos: venv redis-up cluster-up
	source $(LOCAL)/env.sh && $(PY) -m tests.chaos $(CHAOS_ARGS)

# Stops everything the targets above started (used by CI after `make test`).
services-down:
	-$(LOCAL)/trainq-down.sh
	-$(LOCAL)/cluster-down.sh
	-$(LOCAL)/redis-down.sh

clean: services-down
	rm -rf .local
