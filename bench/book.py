"""Benchmark `book`: usage import speed and memory, and the every-customer facts query."""

from __future__ import annotations

import book_facts
import book_usage_import
from common import fresh_database, note


def main(scale: float, dbs: list[str]) -> list[dict]:
    figures: list[dict] = []
    for db in dbs:
        for part in (book_usage_import, book_facts):
            with fresh_database(db) as url:
                if url is None:
                    continue
                note(f"bench book: {part.__name__} on {db} at scale {scale}")
                figures.extend(part.run(scale, db, url))
    return figures
