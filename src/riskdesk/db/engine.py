"""Engines and sessions for SQLite (default, WAL) and PostgreSQL, and schema migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from riskdesk.errors import ConfigError, UnavailableError

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
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True)
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
