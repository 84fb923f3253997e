"""What goes wrong in a file, said with file, line and column."""

from __future__ import annotations

from dataclasses import dataclass

from riskdesk.errors import InvalidInputError

#: How many bad rows an `ImportFileError` message spells out; `.errors` holds them all.
MESSAGE_ERRORS = 20

#: A value with a NUL character is a bad row on both databases (PostgreSQL cannot store it).
NUL_MESSAGE = "contains a NUL character (\\x00), which cannot be stored"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row: `line` is the physical line in the file (the header is 1)."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


class ImportFileError(InvalidInputError):
    """A file was refused; nothing from it was written. `.errors` lists every problem found."""

    def __init__(self, errors: list[RowError], summary: str | None = None) -> None:
        self.errors = list(errors)
        shown = [str(e) for e in self.errors[:MESSAGE_ERRORS]]
        more = len(self.errors) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more")
        head = summary or (
            f"{self.errors[0].file}: {len(self.errors)} problem(s); nothing was imported"
            if self.errors
            else "file refused"
        )
        super().__init__("\n".join([head, *shown]))
