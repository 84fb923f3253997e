# make demo | make test | make test-fast | make bench [BENCH=name] [SCALE=0.1] | make lint
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BENCH ?=
SCALE ?= 1
DEMO_DB ?= demo.db

.PHONY: demo test test-fast bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("riskdesk needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing riskdesk into $(VENV)" >&2
	@$(PY) -m pip install --quiet --upgrade pip >&2
	@$(PY) -m pip install --quiet -e '.[dev]' >&2
	@touch $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	rm -rf demo-mail
	$(VENV)/bin/riskdesk --database-url sqlite:///$(DEMO_DB) demo --truth demo-truth.json \
		--sandbox-state demo-sandbox.json
	RISKDESK_PROVIDER_SANDBOX_STATE=demo-sandbox.json RISKDESK_MAIL_DIR=demo-mail \
		$(VENV)/bin/riskdesk --database-url sqlite:///$(DEMO_DB) collections run
	@echo "a person checks the facts behind the blast-radius alert and lets the run proceed:" >&2
	RISKDESK_PROVIDER_SANDBOX_STATE=demo-sandbox.json RISKDESK_MAIL_DIR=demo-mail \
		$(VENV)/bin/riskdesk --database-url sqlite:///$(DEMO_DB) collections run \
		--max-suspensions 500 --by demo.operator
	$(VENV)/bin/riskdesk --database-url sqlite:///$(DEMO_DB) cases list
	@echo "notices written to demo-mail/ (a Maildir); the sandbox state is demo-sandbox.json" >&2

test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile

# The edit-test loop: pure and SQLite tests, no subprocess runs, no PostgreSQL, one worker per
# core, fewer property-test examples.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not postgres" -q -n auto --hypothesis-profile fast

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src
	$(VENV)/bin/vulture src vulture_whitelist.py --min-confidence 70 --exclude src/riskdesk/db/migrations

# Only the benchmarks' JSON lines go to stdout.
bench: $(STAMP)
	@$(PY) bench/run.py $(BENCH) --scale $(SCALE)

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm demo-truth.json .pytest_cache
