"""Benchmark `book`: usage import speed and memory, and the every-customer facts query."""

from __future__ import annotations

from collections.abc import Iterator

import book_facts
import book_usage_import
from common import fresh_database, note


def main(scale: float, dbs: list[str]) -> Iterator[dict]:
    """Each figure as soon as it is measured."""
    for db in dbs:
        for part in (book_usage_import, book_facts):
            with fresh_database(db) as url:
                if url is None:
                    continue
                note(f"bench book: {part.__name__} on {db} at scale {scale}")
                yield from part.run(scale, db, url)
