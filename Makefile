# Zero to LLM course kit. The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# CI and offline machines read the course's datasets from the shared mirror (see `course data`).
SHARED_DATA := $(abspath ../shared/data)
export COURSE_DATA_MIRROR ?= $(if $(wildcard $(SHARED_DATA)/MANIFEST.tsv),$(SHARED_DATA),)
# torch is pinned to the local CPU build first: an unpinned torch would pull gigabytes of CUDA wheels.
# The package itself only asks for torch>=2.4, so GPU machines keep their CUDA build. Everything else
# is constrained by infra/requirements.lock, the versions the autograder images install.
TORCH_PIN ?= torch==2.13.0
JOBS ?= 2

.PHONY: help venv sandbox-deps demo demo-all test test-fast test-full test-browser browser-deps release lab bench gpu-check clean

help:
	@echo "make demo | demo-all | test | test-fast | test-full | test-browser | lab | bench | release | clean"

# bubblewrap for the grading sandbox (root only, like browser-deps; elsewhere grading runs degraded and
# `course doctor` says how to get the full sandbox).
sandbox-deps:
	@if ! command -v bwrap >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } \
	  || echo "bubblewrap could not be installed: grading will run degraded (see course doctor)"; fi

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -c infra/requirements.lock -e ".[dev]"
	touch $@

venv: sandbox-deps $(BIN)/.installed

release: venv
	$(BIN)/course release

# Builds the releases and grades a synthetic class (reference, blank, one partial student per mutant)
# for every milestone that exists, then prints where the gradebooks and dashboards are.
demo: venv
	$(BIN)/python -m coursekit.demo --out out/demo --jobs $(JOBS)

# Every milestone's synthetic class (reference, blank, one partially-correct student per mutant): slow.
demo-all: venv
	$(BIN)/python -m coursekit.demo --all --out out/demo-all --jobs $(JOBS)

test: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope -q -rs

test-fast: venv
	$(BIN)/python -m pytest -n $(JOBS) --dist loadscope -q -m "not slow"

# Also checks that every mutant keeps full marks on the parts it does not break.
test-full: venv
	COURSEKIT_FULL=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadscope -q -rs

# Debian's chromium for the browser tests (root only; elsewhere the browser tests skip with a reason).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

test-browser: venv browser-deps
	$(BIN)/python -m pytest -q -rs -m browser tests/

# JupyterLab on 127.0.0.1 with the kit installed and release/ open.
lab: venv
	bash infra/lab/start.sh

# On an H100/H200: every @gpu test of m08/m13/m14 on the reference, figures into reference/<id>/gpu.json.
gpu-check: venv
	bash reference/gpu_check.sh

# bench_speed first: grading speed against nbgrader and bare pytest (reference/benchmarks/speed.json).
bench: venv
	$(BIN)/python benchmarks/bench_speed.py --record
	$(BIN)/python benchmarks/bench_grading.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_release.py

clean:
	rm -rf out artifacts .pytest_cache
