"""Reject files: the bad rows exactly as they were in the input, plus an `error` column.

A reject file is checked before anything is imported (`check_target`): it is never the
input file or one of the database's own files (compared as files, so a symlink or a hard
link to them is caught too), and it never replaces an existing file unless overwriting was
asked for. Writing opens it exclusively unless so asked, so a file that appears meanwhile is
not replaced either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from riskdesk.errors import InvalidInputError

#: Files SQLite keeps next to a database file while it is open.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class RejectFileError(InvalidInputError):
    """The reject file cannot be written where asked; nothing was imported.

    `exists` is True when the only problem is an existing file (a surface may say how to
    allow overwriting it)."""

    def __init__(self, message: str, *, exists: bool = False) -> None:
        super().__init__(message)
        self.exists = exists


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def protected_files(database_files: Sequence[Path]) -> list[Path]:
    """The database files and the side files SQLite keeps next to each of them."""
    out: list[Path] = []
    for db in database_files:
        out.append(db)
        out.extend(db.with_name(db.name + suffix) for suffix in _SQLITE_SIDE_FILES)
    return out


def check_target(
    target: Path, source: Path, database_files: Sequence[Path], *, overwrite: bool
) -> None:
    """Refuse (RejectFileError naming the path) a reject file that would destroy something."""
    shown = str(target)
    if _same(target, source):
        raise RejectFileError(
            f"reject file {shown} is the file being imported; nothing was imported"
        )
    resolved = Path(os.path.realpath(target))
    for protected in protected_files(database_files):
        if _same(target, protected) or resolved == Path(os.path.realpath(protected)):
            raise RejectFileError(
                f"reject file {shown} is the database's own file ({protected}); "
                "nothing was imported"
            )
    if target.is_dir():
        raise RejectFileError(f"reject file {shown} is a directory; nothing was imported")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise RejectFileError(
            f"reject file {shown}: its directory {parent} does not exist; nothing was imported"
        )
    if os.path.lexists(target) and not overwrite:
        raise RejectFileError(
            f"reject file {shown} already exists and is not replaced unless asked; "
            "nothing was imported",
            exists=True,
        )


def _open(target: Path, overwrite: bool) -> BinaryIO:
    try:
        return open(target, "wb" if overwrite else "xb")
    except FileExistsError:
        raise RejectFileError(
            f"reject file {target} already exists and is not replaced unless asked; "
            "nothing was imported",
            exists=True,
        ) from None
    except OSError as exc:
        raise RejectFileError(
            f"reject file {target} cannot be written ({exc.strerror}); nothing was imported"
        ) from None


def _quoted(message: str) -> bytes:
    return ('"' + message.replace('"', '""') + '"').encode("utf-8")


def _eol(line: bytes) -> bytes:
    return b"\r\n" if line.endswith(b"\r\n") else b"\n"


def write_from_lines(
    source: Path, target: Path, bad_lines: dict[int, str], *, overwrite: bool = False
) -> None:
    """Copy line 1 (the header) and the lines in `bad_lines` from `source`, one pass."""
    with open(source, "rb") as src, _open(target, overwrite) as out:
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


def write_records(
    target: Path,
    header: bytes,
    records: Iterable[tuple[str, str]],
    *,
    overwrite: bool = False,
) -> None:
    """Write `header` and each (raw text of a record, message)."""
    eol = _eol(header)
    with _open(target, overwrite) as out:
        out.write(header.rstrip(b"\r\n") + b",error" + eol)
        for raw, message in records:
            out.write(raw.rstrip("\r\n").encode("utf-8") + b"," + _quoted(message) + eol)
