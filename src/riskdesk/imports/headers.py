"""Header matching: case-insensitive, blind to spaces/underscores/hyphens, with aliases.

Partner Center spells some headers differently from one documentation version (or export
path) to the next, e.g. `MpnId` / `MPNID`, `Tier2MpnId` / `ResellerMpnId`, and the Graph
billing export uses camelCase (`customerId`). A column is found by its canonical name or any
alias after normalising both.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from riskdesk.imports.errors import ImportFileError, RowError

_NON_ALNUM = re.compile(r"[^0-9a-z]")


def normalise(name: str) -> str:
    return _NON_ALNUM.sub("", name.strip().lstrip("\ufeff").lower())


@dataclass(frozen=True)
class Field:
    """A column an importer reads. `required`: the header must have it (one of the names)."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def read_header(path: Path) -> tuple[list[str], bytes]:
    """The header's fields and its raw bytes (kept for reject files)."""
    with open(path, "rb") as raw:
        first = raw.readline()
    text = first.decode("utf-8-sig", errors="replace")
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as exc:  # a bare CR inside the header line, ...
        error = RowError(str(path), 1, "header", f"not a CSV header line: {exc}")
        raise ImportFileError(
            [error], f"{path}: the header is not usable; nothing was imported"
        ) from None
    return [f.strip() for f in fields], first


def resolve(header: list[str], fields: list[Field], file: str) -> dict[str, int]:
    """Map each field's canonical name to its position in `header`.

    A missing required column, or a column we read given twice, refuses the file.
    """
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(normalise(name), []).append(i)
    found: dict[str, int] = {}
    errors: list[RowError] = []
    for f in fields:
        hits = sorted({i for s in f.spellings for i in positions.get(normalise(s), [])})
        if len(hits) > 1:
            names = ", ".join(repr(header[i]) for i in hits)
            errors.append(RowError(file, 1, f.name, f"column given more than once ({names})"))
        elif hits:
            found[f.name] = hits[0]
        elif f.required:
            also = f" (also accepted: {', '.join(f.aliases)})" if f.aliases else ""
            errors.append(RowError(file, 1, f.name, f"required column is missing{also}"))
    if errors:
        raise ImportFileError(errors, f"{file}: the header is not usable; nothing was imported")
    return found
