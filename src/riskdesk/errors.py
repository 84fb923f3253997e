"""One tree of errors a user can cause, each with a kind a surface maps once.

    RiskdeskError                  kind
     ├── InvalidInputError         invalid      a value, file, option or policy is wrong
     │    └── ConfigError          invalid      a setting is missing or wrong
     ├── NotFoundError             not_found    an unknown customer, invoice, action ...
     ├── ConflictError             conflict     the request contradicts the current state
     │                                          (approve a done action, close a closed case)
     ├── ForbiddenError            forbidden    the actor may not do this
     └── UnavailableError          unavailable  the database, the provider or the mail server
                                                cannot be reached or refused to work

Domain errors subclass the kind they are (`ImportFileError` is an `InvalidInputError`,
`ActionStateError` a `ConflictError`, a transient provider error an `UnavailableError`).
The message names what and where (file, line, column; the customer; the action). The CLI
maps `kind` to an exit code (`EXIT_CODES`); the API will map it to an HTTP status. Anything
that is not a RiskdeskError is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "forbidden", "unavailable"]

#: Exit status of the `riskdesk` command for each kind (Typer's own usage errors exit 2 too).
EXIT_CODES: dict[ErrorKind, int] = {
    "invalid": 2,
    "not_found": 3,
    "conflict": 4,
    "forbidden": 5,
    "unavailable": 6,
}


class RiskdeskError(Exception):
    """An error caused by input, state or an outside part, with a message fit to show a user."""

    kind: ClassVar[ErrorKind] = "invalid"


class InvalidInputError(RiskdeskError):
    kind: ClassVar[ErrorKind] = "invalid"


class ConfigError(InvalidInputError):
    pass


class NotFoundError(RiskdeskError):
    kind: ClassVar[ErrorKind] = "not_found"


class ConflictError(RiskdeskError):
    kind: ClassVar[ErrorKind] = "conflict"


class ForbiddenError(RiskdeskError):
    kind: ClassVar[ErrorKind] = "forbidden"


class UnavailableError(RiskdeskError):
    kind: ClassVar[ErrorKind] = "unavailable"
