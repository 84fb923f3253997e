"""A database the command cannot use is one error line naming it, never a traceback, and a
read command never creates one (issue 13 items 7, 9c)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.db.engine import make_engine
from riskdesk.errors import EXIT_CODES

runner = CliRunner()


def invoke(database_url: str, *args: str):
    return runner.invoke(app, ["--database-url", database_url, *args], catch_exceptions=False)


def _one_error_line(result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [("customers", "list"), ("aging",), ("outbox", "list"), ("customers", "show", "x")],
)
def test_read_command_on_a_missing_sqlite_file_creates_nothing(command, tmp_path):
    path = tmp_path / "mistyped.db"
    result = invoke(f"sqlite:///{path}", *command)
    assert result.exit_code == EXIT_CODES["invalid"]
    line = _one_error_line(result)
    assert f"no database file at {path}" in line
    assert "riskdesk init" in result.stderr
    assert sorted(tmp_path.iterdir()) == []  # no empty database, no -wal / -shm


def test_init_creates_the_missing_file_and_then_reads_work(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert invoke(url, "init").exit_code == 0
    assert invoke(url, "customers", "list").exit_code == 0


def test_init_in_a_missing_directory_names_it(tmp_path):
    result = invoke(f"sqlite:///{tmp_path / 'nowhere' / 'book.db'}", "init")
    assert result.exit_code == EXIT_CODES["unavailable"]
    assert f"there is no directory {tmp_path / 'nowhere'}" in _one_error_line(result)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command", [("init",), ("customers", "list"), ("aging",)])
def test_a_file_that_is_not_a_database(command, tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    result = invoke(f"sqlite:///{path}", *command)
    assert result.exit_code == EXIT_CODES["invalid"]
    assert "is not a riskdesk database: file is not a database" in _one_error_line(result)
    assert path.read_bytes() == b"these are my notes, not a database\n" * 100


def test_a_read_only_database_is_one_line(tmp_path):
    path = tmp_path / "book.db"
    assert invoke(f"sqlite:///{path}", "init").exit_code == 0
    customers = tmp_path / "c.csv"
    customers.write_text(
        "provider_customer_id,name,currency,payment_terms_days,created_on\n"
        "196e2273-9651-43a3-ba7e-7cbcd918fc40,Contoso,EUR,30,2025-01-01\n"
    )
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert invoke(read_only, "customers", "list").exit_code == 0  # reading is fine
    result = invoke(read_only, "import", "customers", str(customers))
    assert result.exit_code == EXIT_CODES["unavailable"]
    assert "is read-only: riskdesk cannot write to it" in _one_error_line(result)


@pytest.mark.parametrize("command", [("init",), ("customers", "list")])
def test_a_database_from_a_newer_riskdesk_names_its_revision(command, database_url):
    assert invoke(database_url, "init").exit_code == 0
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    result = invoke(database_url, *command)
    assert result.exit_code == EXIT_CODES["conflict"]
    line = _one_error_line(result)
    assert "was written by a newer riskdesk (schema revision 0099" in line
    assert "riskdesk init" not in result.stderr  # init cannot help
