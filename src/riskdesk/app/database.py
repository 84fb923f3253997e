"""Opening the book's database, with errors a user can act on.

A read command never creates a database: a SQLite file that does not exist is refused
(`DatabaseMissingError`); only `init` and the demo create one. A file that is not a SQLite
database, a database written by a newer riskdesk and a read-only database (`db.engine`) are
each one error naming the database.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError

from riskdesk.db.engine import (
    make_engine,
    migrate,
    schema_is_current,
    sqlite_file,
    unknown_revisions,
)
from riskdesk.errors import ConflictError, InvalidInputError, UnavailableError


def safe_url(url: str) -> str:
    """The database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: DatabaseError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]


def open_engine(url: str) -> Engine:
    """The engine for `url`, checked to open. A SQLite file that does not exist is not
    opened here (connecting would create it): `require_current_schema` refuses it, and
    `init_book` creates it."""
    engine = make_engine(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return engine
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = _first_line(exc)
        raise UnavailableError(f"cannot open the database {safe_url(url)}: {reason}") from None
    except DatabaseError as exc:  # sqlite: "file is not a database"
        engine.dispose()
        raise InvalidInputError(
            f"{safe_url(url)} is not a riskdesk database: {_first_line(exc)}"
        ) from None
    return engine


class SchemaNotCurrentError(ConflictError):
    """The database has no schema yet, or an older one: initialise or upgrade it."""


class DatabaseMissingError(InvalidInputError):
    """A SQLite database file that does not exist (a mistyped path): nothing is created."""


class SchemaNewerError(ConflictError):
    """The database was written by a newer riskdesk: this one cannot read or upgrade it."""


def _refuse_newer(engine: Engine, url: str) -> None:
    newer = unknown_revisions(engine)
    if newer:
        raise SchemaNewerError(
            f"the database at {safe_url(url)} was written by a newer riskdesk (schema "
            f"revision {', '.join(newer)}, unknown to this version): use that version or newer"
        )


def require_current_schema(engine: Engine, url: str) -> None:
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseMissingError(f"no database file at {path} ({safe_url(url)})")
    if not schema_is_current(engine):
        _refuse_newer(engine, url)
        raise SchemaNotCurrentError(
            f"the database at {safe_url(url)} is not initialised or is out of date: "
            "initialise (or upgrade) it first"
        )


def init_book(engine: Engine) -> None:
    """Create (a SQLite file too) or upgrade the schema."""
    url = engine.url.render_as_string(hide_password=False)
    path = sqlite_file(engine.url)
    if path is not None and not path.parent.is_dir():
        raise UnavailableError(
            f"cannot open the database {safe_url(url)}: there is no directory {path.parent}"
        )
    _refuse_newer(engine, url)
    migrate(engine)
