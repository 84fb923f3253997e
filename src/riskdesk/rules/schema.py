"""The facts rules may use: each fact's name, type and meaning (`FactSchema`).

See `riskdesk.rules.cel` for how each type reaches CEL.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any


class FactType(Enum):
    """The type of a fact, and so how it is written in a rule."""

    INT = "int"
    MONEY = "money"
    NUMBER = "double"
    BOOL = "bool"
    STRING = "string"
    STRING_LIST = "list(string)"
    TIMESTAMP = "timestamp"
    DURATION = "duration"


DEFAULT_MISSING: dict[FactType, Any] = {
    FactType.INT: 0,
    FactType.MONEY: 0,
    FactType.NUMBER: 0,
    FactType.BOOL: False,
    FactType.STRING: "",
    FactType.STRING_LIST: (),
    FactType.TIMESTAMP: datetime(1970, 1, 1, tzinfo=UTC),
    FactType.DURATION: timedelta(0),
}

# CEL reserved words (language definition) cannot name a fact.
_CEL_RESERVED = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"}
    | {"function", "if", "import", "let", "loop", "package", "namespace", "return", "var"}
    | {"void", "while"}
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Fact:
    """One declared fact: its name in rules, its type, and what it means (for the docs)."""

    name: str
    type: FactType
    description: str = ""
    optional: bool = False
    when_missing: Any = None  # value passed when an optional fact is None; None: a zero

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name in _CEL_RESERVED or keyword.iskeyword(self.name):
            raise ValueError(f"fact name {self.name!r} is not a valid CEL identifier")
        if not isinstance(self.type, FactType):
            raise TypeError(f"fact {self.name!r}: type must be a FactType")


@dataclass(frozen=True)
class FactSchema:
    """The facts rules may use. An optional fact `x` also declares the boolean `has_x`."""

    facts: tuple[Fact, ...]
    _by_name: dict[str, Fact] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Fact] = {}
        for f in tuple(self.facts):
            extra = [f]
            if f.optional:
                extra.append(Fact(f"has_{f.name}", FactType.BOOL, f"whether {f.name} is known"))
            for g in extra:
                if g.name in by_name:
                    raise ValueError(f"fact {g.name!r} is declared twice")
                by_name[g.name] = g
        object.__setattr__(self, "facts", tuple(self.facts))
        object.__setattr__(self, "_by_name", by_name)

    @classmethod
    def of(cls, *facts: Fact) -> FactSchema:
        return cls(tuple(facts))

    @classmethod
    def from_types(cls, types: Mapping[str, FactType]) -> FactSchema:
        return cls(tuple(Fact(n, t) for n, t in types.items()))

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a rule may use, including the `has_x` of optional facts."""
        return tuple(self._by_name)

    def __getitem__(self, name: str) -> Fact:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def type_of(self, name: str) -> FactType:
        return self._by_name[name].type

    def describe(self) -> str:
        """A Markdown table of the facts, for a published policy document."""
        lines = ["| fact | type | meaning |", "|---|---|---|"]
        for f in self._by_name.values():
            note = f.description + (
                " (may be missing: test `has_" + f.name + "`)" if f.optional else ""
            )
            lines.append(f"| `{f.name}` | {f.type.value} | {note} |")
        return "\n".join(lines)
