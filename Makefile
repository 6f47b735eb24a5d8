# billow — the two commands a new user needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := $(VENV)/infra-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: run test test-dates soak lint format package package-current synth bench clean debian-packages keep-arenas lock

# The venv installs the dev lock (requirements-dev.lock: requirements-dev.txt + requirements-infra.txt,
# every package pinned with its hashes); `make lock` refreshes the locks after a requirements*.txt change.
$(STAMP): requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# cfn-lint (+ SAM translator) and checkov pin older boto3/pydantic than billow's: their own venv and lock.
$(TOOLS_STAMP): requirements-infra-tools.lock | $(STAMP)
	test -x $(TOOLS)/bin/python || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r requirements-infra-tools.lock
	touch $(TOOLS_STAMP)

## lock: recompile requirements.lock (Lambda), requirements-dev.lock and requirements-infra-tools.lock with
## hashes (pip-tools; PyPI only) after any change to a requirements*.txt; tests/unit/test_locks.py fails until then
lock: $(STAMP)
	$(BIN)/python -m local.lock

## run: start the local stack on 127.0.0.1 (moto, Stripe side, API on :8000, queue pump) in the foreground
run: $(STAMP)
	$(BIN)/python -m local.run

## debian-packages: the Debian packages the suite drives from outside Python, installed when missing and this user
## may (root; one apt-get run for both); otherwise stop with the one command to run:
## - chromium: the console's browser tests (tests/browser); BILLOW_CHROMIUM names another binary
## - poppler-utils: pdftotext and pdftoppm, which read and draw the PDF documents (tests/integration/test_documents.py,
##   test_invoice_pdf_golden.py)
DEBIAN_PACKAGES = $(if $(BILLOW_CHROMIUM),,$(if $(wildcard /usr/bin/chromium),,chromium)) \
	$(if $(and $(wildcard /usr/bin/pdftotext),$(wildcard /usr/bin/pdftoppm)),,poppler-utils)
DEBIAN_INSTALL = apt-get install -y $(strip $(DEBIAN_PACKAGES))
debian-packages:
	@if [ -n "$$BILLOW_CHROMIUM" ]; then \
		command -v "$$BILLOW_CHROMIUM" >/dev/null || { echo "BILLOW_CHROMIUM=$$BILLOW_CHROMIUM is not an executable"; exit 1; }; \
	fi
	@if [ -n "$(strip $(DEBIAN_PACKAGES))" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(DEBIAN_INSTALL); \
		else echo "The suite needs Debian's $(strip $(DEBIAN_PACKAGES)). Run:  sudo $(DEBIAN_INSTALL)"; exit 1; fi; \
	fi

## keep-arenas: CPython 3.11 maps and unmaps a 16 KiB frame-stack chunk whenever a call goes one chunk deeper
## and returns; the suite's deep stacks did so thousands of times a second (13-15 % of its CPU in the kernel).
## local/keep_arenas.py compiles local/keep_arenas.c (gcc) into both venvs with a .pth that imports it in every
## process they start, which then reuses freed chunks and arenas. BILLOW_KEEP_ARENAS=0 skips it (and turns
## it off where built). docs/performance.md, "The test suite's time"
keep-arenas: $(STAMP) $(TOOLS_STAMP)
	@if [ "$$BILLOW_KEEP_ARENAS" = 0 ]; then echo "keep-arenas: off (BILLOW_KEEP_ARENAS=0)"; \
	else start=$$(date +%s); $(BIN)/python -m local.keep_arenas $(VENV) $(TOOLS) >/dev/null && \
		echo "keep-arenas: built into $(VENV) and $(TOOLS) in $$(( $$(date +%s) - start )) s"; fi

## test: lint (ruff, the import contracts of pyproject.toml), the Lambda zips when stale (package-current: the
## tests only read build/package), and the whole suite (unit, integration, e2e, browser, infra: CDK assertions,
## cfn-lint, checkov)
## Bytecode: the suite starts many Python processes that import the project (three workers, ~14 local
## stacks, each CLI run), so it writes and reads __pycache__ even where the shell sets PYTHONDONTWRITEBYTECODE
## (compiling functions/, local/ and the tests' assertion rewrites again in every process cost ~2 s each);
## the project's own modules are compiled once before pytest (docs/performance.md, "The test suite's time")
test: $(STAMP) $(TOOLS_STAMP) debian-packages package-current keep-arenas
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	@start=$$(date +%s); $(BIN)/python -m compileall -q -j 0 app.py functions local infra tests bench && \
		echo "bytecode step: $$(( $$(date +%s) - start )) s (before pytest)"
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

## test-dates: the date-sensitive tests (billing run, proration, usage periods, e2e) with the calendar moved
## (BILLOW_TODAY, functions/core/clock.py) to each awkward day; `make test` already runs the monthly run over
## the local stack on each of them (tests/e2e/test_calendar.py)
AWKWARD_DAYS ?= 2026-12-31 2027-02-28 2028-02-29
DATE_TESTS := tests/e2e tests/integration/test_billing_run.py tests/integration/test_billing_items.py \
	tests/integration/test_usage.py tests/integration/test_off_session.py tests/integration/test_payments_in_flight.py
test-dates: $(STAMP)
	set -e; for day in $(AWKWARD_DAYS); do echo "== calendar moved to $$day"; \
		BILLOW_TODAY=$$day $(BIN)/pytest $(DATE_TESTS) --deselect tests/e2e/test_calendar.py; done

## soak: the randomized simulations at soak size (10,000 steps across the domains, 10,000 on the ledger alone)
soak: $(STAMP)
	BILLOW_SIM_STEPS=10000 BILLOW_LEDGER_EXAMPLES=400 $(BIN)/pytest -n 2 -rP \
		tests/proof/test_simulation.py tests/integration/test_ledger.py::test_ledger_invariant_under_random_operations

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## package: one Lambda zip per function in build/package (<Function>.zip, sam.json, manifest.json):
## requirements.lock installed hash-checked for Lambda's platform, one chalice package run with an empty
## requirements file, precompiled bytecode, each zip holding what its function may import (local/package.py)
package: $(STAMP)
	$(BIN)/python -m local.package build/package

## package-current: `make package` unless build/package is up to date (the fingerprint of the sources, the
## lock and the builder in build/package/manifest.json); prints its own time, apart from pytest's
package-current: $(STAMP)
	@start=$$(date +%s); $(BIN)/python -m local.package --if-stale build/package && \
		echo "package step: $$(( $$(date +%s) - start )) s (before pytest)"

## synth: the CloudFormation template of every deployable stage in infra/cdk.out (offline: CDK + node); each
## stage's settings from infra/settings/<stage>.json (docs/deploy.md). One stage: make synth STAGE=prod
## [SETTINGS=path/to/prod.json]. A missing or placeholder setting fails it, one line per value.
synth: package
	$(BIN)/python -m infra.app $(if $(STAGE),--stage $(STAGE)) $(if $(SETTINGS),--settings $(SETTINGS))

## bench: benchmarks that print figures (not part of make test); BENCH_ARGS="--baseline OLD.zip" measures an earlier package side by side
bench: package
	BILLOW_KEEP_ARENAS=0 $(BIN)/python -m bench.run $(BENCH_ARGS)  # figures as Lambda's Python gives them

clean:
	rm -rf build .pytest_cache .ruff_cache
