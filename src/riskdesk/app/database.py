"""Opening the book's database, with errors a user can act on."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from riskdesk.db.engine import make_engine, migrate, schema_is_current
from riskdesk.errors import ConflictError, UnavailableError


def safe_url(url: str) -> str:
    """The database URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def open_engine(url: str) -> Engine:
    engine = make_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UnavailableError(f"cannot open the database {safe_url(url)}: {reason}") from None
    return engine


class SchemaNotCurrentError(ConflictError):
    """The database has no schema yet, or an older one: initialise or upgrade it."""


def require_current_schema(engine: Engine, url: str) -> None:
    if not schema_is_current(engine):
        raise SchemaNotCurrentError(
            f"the database at {safe_url(url)} is not initialised or is out of date: "
            "initialise (or upgrade) it first"
        )


def init_book(engine: Engine) -> None:
    migrate(engine)
