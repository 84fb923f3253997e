"""Reject files: the bad rows exactly as they were in the input, plus an `error` column."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def _quoted(message: str) -> bytes:
    return ('"' + message.replace('"', '""') + '"').encode("utf-8")


def _eol(line: bytes) -> bytes:
    return b"\r\n" if line.endswith(b"\r\n") else b"\n"


def write_from_lines(source: Path, target: Path, bad_lines: dict[int, str]) -> None:
    """Copy line 1 (the header) and the lines in `bad_lines` from `source`, one pass."""
    with open(source, "rb") as src, open(target, "wb") as out:
        header = src.readline()
        eol = _eol(header)
        out.write(header.rstrip(b"\r\n") + b",error" + eol)
        remaining = len(bad_lines)
        for number, raw in enumerate(src, start=2):
            if remaining == 0:
                break
            message = bad_lines.get(number)
            if message is not None:
                out.write(raw.rstrip(b"\r\n") + b"," + _quoted(message) + eol)
                remaining -= 1


def write_records(target: Path, header: bytes, records: Iterable[tuple[str, str]]) -> None:
    """Write `header` and each (raw text of a record, message)."""
    eol = _eol(header)
    with open(target, "wb") as out:
        out.write(header.rstrip(b"\r\n") + b",error" + eol)
        for raw, message in records:
            out.write(raw.rstrip("\r\n").encode("utf-8") + b"," + _quoted(message) + eol)
