# harbor-py: `make run` and `make test` are all a newcomer needs (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run up down status test test-fast test-unit bench lint deps system-deps test-deps clean

run: deps
	$(PY) manage.py platform run

up: deps
	$(PY) manage.py platform up

down:
	@if [ -x $(PY) ]; then $(PY) manage.py platform down; fi

status:
	$(PY) manage.py platform status

deps: system-deps $(VENV)/.installed frontend/node_modules/.installed

system-deps:
	@deploy/install-system.sh run

test-deps: deps
	@deploy/install-system.sh test
	@PYTHON=$(PYTHON) deploy/build-skopeo.sh  # upstream skopeo with sigstore (docs/signatures.md)
	@PYTHON=$(PYTHON) deploy/build-podman.sh  # upstream podman with sigstore (docs/signatures.md)
	@$(MAKE) -s tests/oidc_provider/node_modules/.installed

# The OpenID provider of the OIDC tests (npm oidc-provider), pinned by its package-lock.json.
tests/oidc_provider/node_modules/.installed: tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	cd tests/oidc_provider && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# Third-party browser code (htmx) from npm, pinned by frontend/package-lock.json.
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund --omit=dev
	touch $@

# The whole suite, end-to-end tests included (real distribution, nginx, skopeo, ...), on
# TEST_WORKERS pytest-xdist workers (most of an end-to-end test's time is spent waiting on
# processes); a module whose tests share an instance runs on one worker (tests/conftest.py),
# in the order tests/conftest.py sets (longest end-to-end modules first), not xdist's.
# `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 3
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

test: test-deps
	$(VENV)/bin/pytest $(XDIST) $(PYTEST_ARGS)

# Only the fast tests (unit and integration: no platform instances), while working.
test-fast: deps
	$(VENV)/bin/pytest -m "not e2e" $(XDIST) $(PYTEST_ARGS)

# The unit tests alone: no database, no network (tests/unit/conftest.py refuses both).
test-unit: deps
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

# Every benchmark runs and reports even when an earlier one misses its goal; the exit
# status says whether any missed. `make bench BENCHES=bench_ui` runs one.
BENCHES := bench bench_requests bench_api bench_ui bench_gc bench_audit bench_ldap \
	bench_replication bench_load bench_ha bench_scanning bench_oidc bench_scanner bench_signatures bench_webhooks bench_proxy bench_retention

bench: test-deps
	@failed=""; for name in $(BENCHES); do \
		$(PY) -m bench.$$name || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks that missed a goal:$$failed"; exit 1; fi

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean: down
	rm -rf data
