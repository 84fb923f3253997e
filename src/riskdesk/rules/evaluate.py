"""Evaluating compiled rules: facts converted to CEL values, all rules in one engine call.

See `riskdesk.rules.cel` for how money, optional facts and literals reach CEL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cel_expr_python import cel

from riskdesk.money import Money
from riskdesk.rules.problems import RuleError, RuleProblem
from riskdesk.rules.schema import DEFAULT_MISSING, FactSchema, FactType


def _money(v: Any) -> float:
    if isinstance(v, Money):
        return float(v.amount)
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError(f"not a finite amount: {v}")
        return float(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, float) and math.isinf(v):
        return v  # "no limit" (when_missing=math.inf)
    raise TypeError(f"expected Money, Decimal or int, got {type(v).__name__}")


def _int(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise TypeError(f"expected an int, got {type(v).__name__}")


def _number(v: Any) -> float:
    if isinstance(v, Money):
        return float(v.amount)
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return float(v)
    raise TypeError(f"expected a number, got {type(v).__name__}")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise TypeError(f"expected True or False, got {type(v).__name__}")


def _string(v: Any) -> str:
    if isinstance(v, str):
        return v
    raise TypeError(f"expected a string, got {type(v).__name__}")


def _strings(v: Any) -> list[str]:
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise TypeError(f"expected a list of strings, got {type(v).__name__}")
    out = list(v)
    if not all(isinstance(x, str) for x in out):
        raise TypeError("expected a list of strings")
    return out


def _timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise TypeError("a timestamp needs a time zone")
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    raise TypeError(f"expected a date or datetime, got {type(v).__name__}")


def _duration(v: Any) -> timedelta:
    if isinstance(v, timedelta):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return timedelta(days=v)
    raise TypeError(f"expected a timedelta or a number of days, got {type(v).__name__}")


_CONVERT: dict[FactType, Callable[[Any], Any]] = {
    FactType.INT: _int,
    FactType.MONEY: _money,
    FactType.NUMBER: _number,
    FactType.BOOL: _bool,
    FactType.STRING: _string,
    FactType.STRING_LIST: _strings,
    FactType.TIMESTAMP: _timestamp,
    FactType.DURATION: _duration,
}

_ABSENT = object()


def _referenced(sources: Iterable[str], schema: FactSchema) -> list[str]:
    """Facts named in the rules (identifiers outside string literals), in schema order."""
    words: set[str] = set()
    for s in sources:
        bare = re.sub(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", " ", s)
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))
    return [n for n in schema.names if n in words]


def _status(text: str) -> str:
    """An engine status message without its code prefix ("INVALID_ARGUMENT: ...") and suffix."""
    return re.sub(r"\s*\[[A-Z_]+\]\s*$", "", re.sub(r"^[A-Z_]+: ", "", text.strip()))


def _raised(text: str) -> str:
    """What an evaluation that raised (rather than gave a CEL error value) means."""
    message = _status(text.splitlines()[0] if text.strip() else "evaluation failed")
    if "budget" in message.lower():
        return (
            f"{message}: the condition does too much work for one customer (comprehensions "
            "nested over lists); simplify it"
        )
    return message


class RuleSet:
    """Rules compiled once; evaluate them over one entity or many.

    All rules are evaluated in one call into the engine (a CEL list of the rules): one
    crossing per entity rather than one per rule. When that call fails, the rules are
    evaluated one by one to name the rule that failed.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        sources: tuple[str, ...],
        compiled_sources: tuple[str, ...],
        singles: tuple[Any, ...],
        combined: Any,
        schema: FactSchema,
        kind: str,
        entity_key: str | None,
    ) -> None:
        self.names = names
        self.sources = dict(zip(names, sources, strict=True))
        self.compiled_sources = dict(zip(names, compiled_sources, strict=True))
        self.schema = schema
        self.kind = kind
        self.entity_key = entity_key
        self._singles = singles
        self._combined = combined
        self._error = cel.Type.ERROR
        used = _referenced(compiled_sources, schema)
        # (name, converter, when missing, has_ name): has_ name is None for a required fact
        plan = []
        for n in used:
            fact = schema[n]
            if n.startswith("has_") and n[4:] in schema and schema[n[4:]].optional:
                continue  # filled in with its fact below
            plan.append(fact)
        for n in used:
            if n.startswith("has_") and n[4:] in schema and schema[n[4:]].optional:
                base = schema[n[4:]]
                if base not in plan:
                    plan.append(base)
        self._plan = tuple(
            (
                f.name,
                _CONVERT[f.type],
                _CONVERT[f.type](
                    DEFAULT_MISSING[f.type] if f.when_missing is None else f.when_missing
                )
                if f.optional
                else None,
                f"has_{f.name}" if f.optional else None,
            )
            for f in plan
        )
        self.facts_used = tuple(f.name for f in plan)

    def __repr__(self) -> str:
        return f"RuleSet({list(self.names)!r})"

    # -- values

    def _entity(self, facts: Any, index: int | None) -> str:
        key = self.entity_key
        if key is not None:
            value = facts.get(key) if isinstance(facts, Mapping) else getattr(facts, key, None)
            if value is not None:
                return f"{key} {value}"
        return f"row {index}" if index is not None else "the entity"

    def _data(self, facts: Any, index: int | None) -> dict[str, Any]:
        get = facts.get if isinstance(facts, Mapping) else (lambda k, d: getattr(facts, k, d))
        data: dict[str, Any] = {}
        for name, convert, missing, has in self._plan:
            value = get(name, _ABSENT)
            if value is None or value is _ABSENT:
                if has is None:  # only optional facts have a has_<name> flag
                    what = "missing" if value is _ABSENT else "None"
                    raise RuleError(
                        [RuleProblem("(facts)", "", f"fact {name!r} is {what} (not optional)")],
                        kind=self.kind,
                        entity=self._entity(facts, index),
                    )
                data[name] = missing
                data[has] = False
                continue
            try:
                data[name] = convert(value)
            except (TypeError, ValueError) as exc:
                raise RuleError(
                    [RuleProblem("(facts)", "", f"fact {name!r}: {exc}")],
                    kind=self.kind,
                    entity=self._entity(facts, index),
                ) from None
            if has is not None:
                data[has] = True
        return data

    # -- evaluation

    def _run(self, data: dict[str, Any], facts: Any, index: int | None) -> tuple[bool, ...]:
        raised = ""
        try:
            value = self._combined.eval(data=data)
        except RuntimeError as exc:  # the engine raises past its budget: find the rule
            value, raised = None, str(exc)
        else:
            if value.type() != self._error:
                return tuple(value.plain_value())
        for name, expr in zip(self.names, self._singles, strict=True):
            try:
                one = expr.eval(data=data)
            except RuntimeError as exc:
                raise RuleError(
                    [RuleProblem(name, self.sources[name], _raised(str(exc)))],
                    kind=self.kind,
                    entity=self._entity(facts, index),
                ) from None
            if one.type() == self._error:
                raise RuleError(
                    [RuleProblem(name, self.sources[name], _status(str(one.value())))],
                    kind=self.kind,
                    entity=self._entity(facts, index),
                )
        raise RuleError(
            [
                RuleProblem(
                    "(all)", "", _raised(raised) if value is None else _status(str(value.value()))
                )
            ],
            kind=self.kind,
            entity=self._entity(facts, index),
        )

    def evaluate(self, facts: Mapping[str, Any] | Any) -> dict[str, bool]:
        """Every rule's value for one entity (a mapping of facts, or an object with them)."""
        if not self.names:
            return {}
        result = self._run(self._data(facts, None), facts, None)
        return dict(zip(self.names, result, strict=True))

    def first_match(self, facts: Mapping[str, Any] | Any) -> str | None:
        """The first rule (in order) that holds, or None."""
        if not self.names:
            return None
        for name, held in zip(
            self.names, self._run(self._data(facts, None), facts, None), strict=True
        ):
            if held:
                return name
        return None

    def evaluate_many(self, rows: Iterable[Mapping[str, Any] | Any]) -> list[tuple[bool, ...]]:
        """Each row's rule values, in rule order (the hot path)."""
        if not self.names:
            return [() for _ in rows]
        data_of = self._data
        run = self._run
        error = self._error
        combined = self._combined.eval
        out: list[tuple[bool, ...]] = []
        append = out.append
        for i, row in enumerate(rows):
            data = data_of(row, i)
            try:
                value = combined(data=data)
            except RuntimeError:  # past the engine's budget: `run` names the rule
                append(run(data, row, i))
                continue
            if value.type() != error:
                append(tuple(value.plain_value()))
            else:
                append(run(data, row, i))
        return out
