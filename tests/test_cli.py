"""The `riskdesk` command as a user runs it: a real process for imports, the Typer app in-process
for the rest, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import make_engine, session_scope
from riskdesk.db.models import Customer, ImportRun, UsageRecord
from riskdesk.errors import EXIT_CODES
from riskdesk.imports.samples import write_pc_usage_csv

RISKDESK = [sys.executable, "-m", "riskdesk"]
runner = CliRunner()


def run(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RISKDESK_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [*RISKDESK, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def invoke(database_url: str, *args: str):
    return runner.invoke(app, ["--database-url", database_url, *args], catch_exceptions=False)


def counts(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        result = (
            session.scalar(select(func.count()).select_from(UsageRecord)),
            session.scalar(select(func.count()).select_from(ImportRun)),
        )
    engine.dispose()
    return result


def _customers_file(path: Path, tenants: list[str]) -> Path:
    lines = ["provider_customer_id,name,currency,payment_terms_days,created_on"]
    lines += [f"{t},Customer {i},EUR,30,2025-01-0{i + 1}" for i, t in enumerate(tenants)]
    path.write_text("\n".join(lines) + "\n")
    return path


TENANTS = ["196e2273-9651-43a3-ba7e-7cbcd918fc40", "0c5b1e41-2f0b-4c9e-9d51-1a8f3e0b7c22"]


def _break(line: str, header: list[str], column: str, value: str | None) -> str:
    """The same CSV line with one field replaced (None: the last field dropped)."""
    import csv
    import io

    fields = next(csv.reader(io.StringIO(line)))
    if value is None:
        fields = fields[:-1]
    else:
        fields[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


@pytest.fixture
def usage_book(database_url, tmp_path):
    """An initialised book with two customers and a 20-row usage export with 4 broken rows."""
    assert run(database_url, "init").returncode == 0
    customers = run(
        database_url, "import", "customers", str(_customers_file(tmp_path / "c.csv", TENANTS))
    )
    assert customers.returncode == 0, customers.stderr
    good = write_pc_usage_csv(tmp_path / "good.csv", TENANTS, 20, seed=1)
    lines = good.read_text().splitlines()
    import csv

    header = next(csv.reader([lines[0]]))
    broken = {  # line number (header is line 1) -> (column, what the message says)
        3: ("UsageDate", "13/45/2026", "not a date"),
        6: ("Quantity", "-4", "negative quantity"),
        9: ("BillingCurrency", "EURO", "unknown currency"),
        12: (header[-1], None, "missing column"),
    }
    for line, (column, value, _) in broken.items():
        lines[line - 1] = _break(lines[line - 1], header, column, value)
    bad = tmp_path / "usage.csv"
    bad.write_text("\n".join(lines) + "\n")
    return database_url, good, bad, broken


@pytest.mark.slow
def test_a_malformed_usage_export_is_refused_naming_line_and_column(usage_book):
    database_url, _, bad, broken = usage_book
    before = counts(database_url)
    result = run(database_url, "import", "pc-usage", str(bad))
    assert result.returncode == 2
    for line, (column, _, message) in broken.items():
        assert f"{bad}:{line}: {column}: " in result.stderr
        reported = [x for x in result.stderr.splitlines() if x.startswith(f"{bad}:{line}:")]
        assert message in reported[0]
    assert counts(database_url) == before == (0, 1)  # only the customers import ran
    assert "--skip-bad-rows" in result.stderr  # the CLI adds its own hint to the domain's error


@pytest.mark.slow
def test_skip_bad_rows_lands_the_good_rows_and_rejects_the_bad(usage_book, tmp_path):
    database_url, _, bad, broken = usage_book
    rejects = tmp_path / "rejects.csv"
    result = run(
        database_url,
        "import",
        "pc-usage",
        str(bad),
        "--skip-bad-rows",
        "--reject-file",
        str(rejects),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rows_inserted"], report["rows_rejected"]) == (16, 4)
    assert counts(database_url)[0] == 16
    rejected = rejects.read_text().splitlines()
    assert len(rejected) == 1 + len(broken)
    source = bad.read_text().splitlines()
    for out, line in zip(rejected[1:], sorted(broken), strict=True):
        assert out.startswith(source[line - 1])


@pytest.mark.slow
def test_importing_the_same_file_twice_leaves_the_same_counts(usage_book):
    database_url, good, _, _ = usage_book
    first = run(database_url, "import", "pc-usage", str(good))
    assert first.returncode == 0, first.stderr
    assert "20 imported" in first.stdout
    rows_after_first = counts(database_url)[0]
    second = run(database_url, "import", "pc-usage", str(good))
    assert second.returncode == 0
    assert "0 imported, 20 already in the book" in second.stdout
    assert counts(database_url)[0] == rows_after_first == 20


def test_an_uninitialised_book_is_refused_with_the_fix(database_url):
    if database_url.startswith("sqlite:///"):  # an existing, empty file (a missing one: 9c)
        Path(database_url.removeprefix("sqlite:///")).touch()
    result = invoke(database_url, "aging")
    assert result.exit_code == EXIT_CODES["conflict"]
    assert "riskdesk init" in result.output


def test_demo_then_customers_and_aging_agree(database_url, tmp_path):
    truth = tmp_path / "truth.json"
    demo = invoke(
        database_url,
        "demo",
        "--customers",
        "40",
        "--months",
        "4",
        "--seed",
        "11",
        "--as-of",
        "2026-06-15",
        "--truth",
        str(truth),
        "--sandbox-state",
        str(tmp_path / "sandbox.json"),
        "--json",
    )
    assert demo.exit_code == 0, demo.output
    summary = json.loads(demo.output)
    assert summary["summary"]["counts"]["customers"] == 40
    assert json.loads(truth.read_text())["seed"] == 11
    # the demo's sandbox holds the same book: syncing from it found nothing new or different
    sync = summary["sync"]
    assert (sync["customers_seen"], sync["customers_new"], sync["usage_inserted"]) == (40, 0, 0)
    assert sync["differences"] == [] and (tmp_path / "sandbox.json").exists()

    listed = invoke(
        database_url, "customers", "list", "--limit", "0", "--as-of", "2026-06-15", "--json"
    )
    facts = json.loads(listed.output)
    assert len(facts) == 40
    open_by_currency: dict[str, Decimal] = defaultdict(Decimal)
    for f in facts:
        open_by_currency[f["currency"]] += Decimal(f["open_balance"]["amount"])
    aging = json.loads(invoke(database_url, "aging", "--as-of", "2026-06-15", "--json").output)
    aging_totals = {row["currency"]: Decimal(row["total"]["amount"]) for row in aging}
    assert {c: v for c, v in aging_totals.items() if v} == {
        c: v for c, v in open_by_currency.items() if v
    }
    assert sum(open_by_currency.values()) > 0

    ranked = sorted(facts, key=lambda f: -Decimal(f["overdue_amount"]["amount"]))[0]
    shown = invoke(
        database_url,
        "customers",
        "show",
        ranked["provider_customer_id"],
        "--as-of",
        "2026-06-15",
        "--json",
    )
    detail = json.loads(shown.output)
    assert detail["facts"]["overdue_amount"] == ranked["overdue_amount"]
    open_sum = sum(Decimal(i["open_amount"]["amount"]) for i in detail["open_invoices"])
    assert open_sum == Decimal(ranked["open_balance"]["amount"])
    # The README's own example: a customer is found by its domain, in any letter case, and
    # the table shows where it stands in collections.
    domain = detail["customer"]["domain"]
    by_domain = invoke(database_url, "customers", "show", domain.upper(), "--as-of", "2026-06-15")
    assert by_domain.exit_code == 0, by_domain.output
    assert detail["customer"]["name"] in by_domain.output
    assert "collections: in good standing" in by_domain.output
    assert "collections" in detail and "holds" in detail and "waiting_actions" in detail

    again = invoke(database_url, "demo", "--customers", "40", "--no-sandbox")
    assert again.exit_code == EXIT_CODES["conflict"] and "already has customers" in again.output


def test_an_unknown_customer_is_one_clear_error(database_url):
    assert invoke(database_url, "init").exit_code == 0
    result = invoke(database_url, "customers", "show", "no-such-tenant")
    assert result.exit_code == EXIT_CODES["not_found"]
    assert "unknown customer 'no-such-tenant'" in result.output


def test_customers_are_listed_by_overdue_with_tag_filter(database_url, tmp_path):
    invoke(
        database_url,
        "demo",
        "--customers",
        "30",
        "--months",
        "3",
        "--as-of",
        "2026-06-15",
        "--truth",
        str(tmp_path / "t.json"),
        "--no-sandbox",
        "--json",
    )
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        tagged = {
            c.provider_customer_id for c in session.scalars(select(Customer)) if "smb" in c.tags
        }
    engine.dispose()
    result = invoke(
        database_url,
        "customers",
        "list",
        "--tag",
        "smb",
        "--sort",
        "overdue",
        "--limit",
        "0",
        "--as-of",
        "2026-06-15",
        "--json",
    )
    listed = json.loads(result.output)
    assert {f["provider_customer_id"] for f in listed} == tagged
    overdue = [Decimal(f["overdue_amount"]["amount"]) for f in listed]
    assert overdue == sorted(overdue, reverse=True)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    url = "postgresql+psycopg://riskdesk:hunter2@127.0.0.1:9/book"  # port 9: nothing listens
    result = runner.invoke(app, ["--database-url", url, "aging"])
    assert result.exit_code == EXIT_CODES["unavailable"]
    assert "cannot open the database" in result.output and "hunter2" not in result.output
    missing = runner.invoke(app, ["--database-url", f"sqlite:///{tmp_path}/no/such/dir.db", "init"])
    assert (
        missing.exit_code == EXIT_CODES["unavailable"]
        and "cannot open the database" in missing.output
    )


@pytest.mark.slow
def test_sandbox_command_serves_and_sync_command_pulls_from_it(database_url, tmp_path):
    import signal

    state = tmp_path / "sandbox.json"
    env = {**os.environ, "COLUMNS": "200"}
    server = subprocess.Popen(
        [*RISKDESK, "sandbox", "--port", "0", "--state", str(state), "--token", "t0k3n"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = server.stderr.readline()  # "sandbox: http://127.0.0.1:PORT  token: ..."
        assert line.startswith("sandbox: http://127.0.0.1:"), line
        assert "t0k3n" not in line  # a token the operator chose is not echoed
        base_url = line.split()[1]
        assert run(database_url, "init").returncode == 0
        pointed = {
            "RISKDESK_PROVIDER_KIND": "sandbox",
            "RISKDESK_PROVIDER_BASE_URL": base_url,
            "RISKDESK_PROVIDER_SANDBOX_TOKEN": "t0k3n",
        }
        env_sync = {**env, **pointed, "RISKDESK_DATABASE_URL": database_url}
        result = subprocess.run(
            [*RISKDESK, "sync", "--json"],
            capture_output=True,
            text=True,
            env=env_sync,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["customers_new"] == report["customers_seen"] > 0
        assert "t0k3n" not in result.stdout + result.stderr
        wrong = subprocess.run(
            [*RISKDESK, "sync"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={
                **env_sync,
                "RISKDESK_PROVIDER_SANDBOX_TOKEN": "wrong",
                "RISKDESK_PROVIDER_MAX_ATTEMPTS": "1",
            },
        )
        assert wrong.returncode == EXIT_CODES["unavailable"] and "401" in wrong.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert state.exists()
