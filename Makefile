# The two commands of the README: `make demo` (the main job) and `make test` (what CI runs).
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: setup demo test test-unit gates bench-ingest schemas down lint test-deploy kind-deploy kind-e2e

setup:
	@./scripts/setup.sh

## The whole sorting pipeline on the bundled sample (data/sample), against the local stack.
demo: setup
	uv run samx demo

## Unit, integration (real Kafka + MinIO, started by the tests) and end-to-end tests.
# pytest's exit code 5 (nothing collected) fails the run: a run that tested nothing must not pass.
# PYTHONFAULTHANDLER: a native crash (also one after the summary, at interpreter exit) prints the Python
# stacks of every thread instead of a bare exit code 139.
# The gates run first (about a minute for mypy without its cache, seconds with it): a lint, format or type
# finding fails the run before any server starts.
# TEST_WORKERS=N runs N pytest-xdist workers, a test module to each (its module fixtures stay in one process;
# each worker has its own local stack). One process by default: on 2 cores two workers cut the wall time
# little (36 min against ~50) and starve the timing-bound fault tests (a Ray head that times out at start,
# a checkpoint that does not land before the kill); use it where there are cores to spare.
TEST_WORKERS ?= 0
test: setup gates
	@PYTHONFAULTHANDLER=1 uv run pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadscope); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

## The fast tier: no servers (no Kafka, MinIO, Ray cluster or browser), about two minutes.
test-unit: setup gates
	@PYTHONFAULTHANDLER=1 uv run pytest -m "not integration and not fault" libs services tests/unit; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

gates:
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

bench-ingest: setup
	uv run python bench/ingest.py

schemas:
	uv run samx dev export-schemas

lint: gates

down:
	uv run samx stack down

## Chart and image checks only (helm lint/template, schemas, security), and the kind cluster path.
test-deploy: setup
	uv run pytest tests/deploy -q

kind-deploy: setup
	k8s/deploy.sh

kind-e2e:
	k8s/e2e.sh
