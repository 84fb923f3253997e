"""Fresh databases for benchmarks: a SQLite file in a temp dir, or a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.engine import make_url

from riskdesk.db.engine import make_engine, migrate

POSTGRES_URL = os.environ.get(
    "RISKDESK_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def fresh_database(db: str) -> Iterator[str | None]:
    """Yield the URL of a migrated, empty database of kind `db`, or None if unavailable."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="riskdesk-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            engine = make_engine(url)
            migrate(engine)
            engine.dispose()
            yield url
        return
    schema = f"rdbench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        note(f"bench: PostgreSQL at {POSTGRES_URL} unavailable, skipped: {exc}")
        admin.dispose()
        yield None
        return
    url = make_url(POSTGRES_URL)
    scoped = url.render_as_string(hide_password=False) + (
        ("&" if url.query else "?") + "options=" + quote(f"-csearch_path={schema}")
    )
    try:
        engine = make_engine(scoped)
        migrate(engine)
        engine.dispose()
        yield scoped
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
