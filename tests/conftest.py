"""Fixtures with real parts: a SQLite file, and PostgreSQL when RISKDESK_TEST_DATABASE_URL is set.

Every test that takes `engine` runs once per database. Without RISKDESK_TEST_DATABASE_URL the
PostgreSQL run is skipped with a reason; with RISKDESK_REQUIRE_POSTGRES=1 (set by .ci/run) a
missing server fails instead. Each PostgreSQL test gets a schema of its own, dropped after.
"""

from __future__ import annotations

import os
import shutil
import uuid
from urllib.parse import quote

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from riskdesk.db.engine import make_engine, migrate

# `make test-fast` (the edit-test loop) tries fewer examples; `make test` keeps the default 100.
settings.register_profile("fast", max_examples=25)

POSTGRES_URL = os.environ.get("RISKDESK_TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("RISKDESK_REQUIRE_POSTGRES") == "1"


def _postgres_url_with_schema(schema: str) -> str:
    url = make_url(POSTGRES_URL)
    options = quote(f"-csearch_path={schema}")
    return url.render_as_string(hide_password=False) + (
        ("&" if url.query else "?") + f"options={options}"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL of an empty database of each kind (schema not yet migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'book.db'}"
        return
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("RISKDESK_REQUIRE_POSTGRES=1 but RISKDESK_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL: set RISKDESK_TEST_DATABASE_URL to run (see README)")
    schema = f"rdtest_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} not reachable: {exc}")
    try:
        yield _postgres_url_with_schema(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _migrated_sqlite_file(tmp_path_factory):
    """One SQLite book migrated once per test session; each test gets a copy of the file.

    Running the migrations takes about 0.1 s; copying the migrated file takes about 1 ms, and
    several hundred tests start from an empty book.
    """
    path = tmp_path_factory.mktemp("template") / "book.db"
    template = make_engine(f"sqlite:///{path}")
    migrate(template)
    with template.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    template.dispose()
    return path


@pytest.fixture
def engine(database_url, _migrated_sqlite_file):
    """A migrated, empty book on each database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(_migrated_sqlite_file, url.database)
        engine = make_engine(database_url)
    else:
        engine = make_engine(database_url)
        migrate(engine)
    yield engine
    engine.dispose()


#: Test modules that run whole commands (the CLI in process over a demo book, real kills,
#: real HTTP receivers with timeouts, fuzzing): `slow`, so `make test-fast` stays an
#: edit-test loop of the domain and SQLite tests. `make test` runs them all.
SLOW_MODULES = (
    "test_cli",
    "test_fuzz_",
    "test_collections_as_of",
    "test_executor_kill",
    "test_payment_kill",
    "test_crash_matrix",
    "test_webhooks",
    "test_sandbox_state",
    "test_policy_limits",
    "test_retries_executor",
)


def pytest_collection_modifyitems(items):
    """Every PostgreSQL variant carries the `postgres` marker, and every test of the modules
    in `SLOW_MODULES` the `slow` one (`make test-fast` leaves both out)."""
    for item in items:
        if "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
        if item.path.name.startswith(SLOW_MODULES):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """Say plainly how many tests ran on PostgreSQL, so a CI log shows they were not skipped."""
    outcomes = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in outcomes:
        for report in terminalreporter.stats.get(outcome, []):
            if "[postgresql" in report.nodeid and report.when in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                outcomes[outcome] += 1
    where = POSTGRES_URL or "not configured"
    terminalreporter.write_line(
        f"PostgreSQL tests ({where}): {outcomes['passed']} passed, "
        f"{outcomes['failed']} failed, {outcomes['skipped']} skipped"
    )
