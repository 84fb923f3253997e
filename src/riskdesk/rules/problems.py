"""What is wrong with a rule: `RuleProblem` (one rule) and `RuleError` (all of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from riskdesk.errors import InvalidInputError


@dataclass(frozen=True)
class RuleProblem:
    """What is wrong with one rule; line and column (1-based) when the engine gives them."""

    rule: str
    source: str
    message: str
    line: int | None = None
    column: int | None = None


class RuleError(InvalidInputError):
    """A rule that cannot be compiled, or that failed on one entity.

    `rule`, `source` and `message` describe the first problem; `problems` lists all of them
    (at load time every bad rule is reported, not only the first); `entity` names the
    entity a run-time failure happened on. `subject` is what a rule is called in messages
    ("stage 'suspend': ..."); the error's `kind` stays "invalid" so surfaces map it once.
    """

    def __init__(self, problems: Sequence[RuleProblem], *, kind: str = "rule", entity: Any = None):
        self.problems = list(problems)
        first = self.problems[0]
        self.rule = first.rule
        self.source = first.source
        self.message = first.message
        self.entity = entity
        self.subject = kind
        lines = [self._line(p) for p in self.problems]
        super().__init__("; ".join(lines))

    def _line(self, p: RuleProblem) -> str:
        where = f" (line {p.line}, column {p.column})" if p.line is not None else ""
        entity = f" for {self.entity}" if self.entity is not None else ""
        return f"{self.subject} {p.rule!r}{entity}: {p.message}{where}"
