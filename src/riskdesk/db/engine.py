"""Engines and sessions for SQLite (default, WAL) and PostgreSQL, and schema migration."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from riskdesk.errors import ConfigError, InvalidInputError, UnavailableError

MIGRATIONS = Path(__file__).parent / "migrations"


class ReadOnlyDatabaseError(UnavailableError):
    """The database refused a write: the file (or its directory) is read-only."""


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (relative to the current directory), or None for anything
    else (PostgreSQL, in-memory, a `file:` URI)."""
    parsed = make_url(url) if isinstance(url, str) else url
    database = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or "uri" in parsed.query
    ):
        return None
    return Path(database)


class NulByteError(InvalidInputError):
    """A text value holding a NUL byte, which PostgreSQL cannot store."""


_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def _nul_field(statement: str | None, parameters: Any) -> str:
    """`table.column` (or `table`) of the first parameter holding a NUL byte."""
    found = _TABLE.match(statement or "")
    table = found.group(1) if found else "a table"
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        items = row.items() if isinstance(row, dict) else enumerate(row or ())
        for key, value in items:
            if isinstance(value, str) and "\x00" in value:
                column = re.sub(r"_m?\d+$", "", str(key)) if isinstance(key, str) else None
                return (
                    f"{table}.{column} ({value[:40]!r})" if column else f"{table} ({value[:40]!r})"
                )
    return table


def _refuse_nul(engine: Engine) -> None:
    """PostgreSQL refuses text with a NUL byte: one error naming the table and column."""

    @event.listens_for(engine, "handle_error")
    def _nul(context: ExceptionContext) -> None:
        if "NUL (0x00)" in str(context.original_exception):
            where = _nul_field(context.statement, context.parameters)
            raise NulByteError(
                f"a text value for {where} contains a NUL byte (\\x00), which the database "
                "cannot store; nothing was written"
            ) from None


class UnstorableValueError(InvalidInputError):
    """A value the database cannot hold: text longer than its column, a number out of range.

    The last resort: the use cases check what they are given first (`riskdesk.app.limits`)."""


_VARCHAR = re.compile(r"character varying\((\d+)\)")
_FROM = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|FROM)\s+\"?(\w+)", re.IGNORECASE)
_COLUMNS = re.compile(r"^\s*INSERT\s+INTO\s+\"?\w+\"?\s*\(([^)]*)\)\s*VALUES", re.I)
_INT_RANGE = re.compile(r"\b(?:bigint|integer|smallint) out of range")
_LARGEST = 2**63 - 1


def _field_of(statement: str | None, parameters: Any, bad: Callable[[Any], bool]) -> str:
    """`table.column (value)` of the first parameter `bad` picks, as far as it is known."""
    found = _FROM.search(statement or "")
    table = found.group(1) if found else "a table"
    listed = _COLUMNS.search(statement or "")  # positional (SQLite): the INSERT's columns
    names = [c.strip().strip('"') for c in listed.group(1).split(",")] if listed else []
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        items = row.items() if isinstance(row, dict) else enumerate(row or ())
        for key, value in items:
            if bad(value):
                shown = f"{value[:40]!r}..." if isinstance(value, str) else str(value)
                if isinstance(key, int):
                    key = names[key] if key < len(names) else None
                column = re.sub(r"_m?\d+$", "", key) if isinstance(key, str) else None
                return f"{table}.{column} ({shown})" if column else f"{table} ({shown})"
    return table


def _any_parameter(parameters: Any, bad: Callable[[Any], bool]) -> bool:
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else (row or ())
        if any(bad(value) for value in values):
            return True
    return False


def _refuse_unstorable(engine: Engine) -> None:
    """Text too long for its column (PostgreSQL) and an integer beyond 64 bits (both
    databases) are one error naming table and column, not a traceback; nothing is written."""

    @event.listens_for(engine, "handle_error")
    def _unstorable(context: ExceptionContext) -> None:
        original = context.original_exception
        text = str(original)
        too_long = _VARCHAR.search(text) if "value too long" in text else None
        if too_long is not None:
            length = int(too_long.group(1))
            where = _field_of(
                context.statement,
                context.parameters,
                lambda v: isinstance(v, str) and len(v) > length,
            )
            raise UnstorableValueError(
                f"a text value for {where} is longer than its database column holds "
                f"(at most {length} characters); nothing was written"
            ) from None
        if "SQLite INTEGER" in text or _INT_RANGE.search(text):

            def beyond(v: Any) -> bool:
                return isinstance(v, int) and not -_LARGEST - 1 <= v <= _LARGEST

            if "SQLite INTEGER" not in text and not _any_parameter(context.parameters, beyond):
                # Computed, not given (a sum cast back to BIGINT): the statement's own
                # overflow, which `book._sql.exact_sums` answers with split sums.
                return
            where = _field_of(context.statement, context.parameters, beyond)
            raise UnstorableValueError(
                f"a number for {where} is out of the range the database holds "
                "(a 64-bit integer); nothing was written"
            ) from None


def _refuse_read_only(parsed: URL, engine: Engine) -> None:
    """A write to a read-only SQLite database is one error naming it, wherever it happens."""
    where = parsed.render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _read_only(context: ExceptionContext) -> None:
        text = str(context.original_exception).lower()
        if "readonly database" in text or ("read-only" in text and "database" in text):
            raise ReadOnlyDatabaseError(
                f"the database {where} is read-only: riskdesk cannot write to it "
                "(check the permissions of the file and of its directory)"
            ) from None


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        _refuse_read_only(parsed, engine)
        _refuse_unstorable(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
        _refuse_nul(engine)
        _refuse_unstorable(engine)
        return engine
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with session_factory(engine)() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    command.upgrade(_alembic_config(engine), "head")


def schema_is_current(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(_alembic_config(engine))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())


def unknown_revisions(engine: Engine) -> list[str]:
    """Revisions the database records that these migrations do not know: a newer riskdesk
    wrote it (empty when the schema is current, older or absent)."""
    script = ScriptDirectory.from_config(_alembic_config(engine))
    known = {revision.revision for revision in script.walk_revisions()}
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return sorted(set(current) - known)


def dialect(engine_or_session) -> str:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name
