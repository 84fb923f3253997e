"""Rules in CEL (Common Expression Language), type-checked and compiled once.

The engine is `cel-expr-python` (Google's C++ CEL behind a thin binding): every fact is
declared with a type, so a misspelt fact, a rule that is not true/false, or comparing a
list with a number is refused when the policy is loaded, never in the middle of a run.
See docs/rules.md for the comparison with the other engines and the measured speeds.

How facts reach CEL (`FactType`):

- MONEY: a CEL double in units of the entity's currency (`overdue_amount > 1000` means
  1000 euros for a EUR customer). Values may be `Money`, `Decimal` or `int`; floats are
  refused. A whole-number literal next to a money operand (`overdue_amount > 1000`,
  `1000 < overdue_amount`, `overdue_amount - 100 > 0`) is read as `1000.0`: CEL has no
  implicit int-to-double conversion, so the type checker's complaint points at the literal
  and the literal is rewritten before compiling. Comparing one money fact with a literal is
  exact (an amount with at most 15 significant digits and a literal both become the nearest
  double, and rounding to nearest keeps their order). Sums and differences of money facts
  are binary floating point: at a boundary to the last cent they may fall either way, so a
  policy that needs such a sum exactly should publish it as a fact of its own.
- INT, NUMBER (double), BOOL, STRING, STRING_LIST, TIMESTAMP (a `date` is midnight UTC),
  DURATION (a `timedelta`; an int is a number of days).
- Optional facts: a fact declared `optional=True` may be None (or absent). It is then passed
  as its `when_missing` value and a companion boolean fact `has_<name>` says whether it was
  there: `has_credit_limit && exposure > credit_limit`.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from cel_expr_python import cel

from riskdesk.errors import InvalidInputError
from riskdesk.money import Money

__all__ = [
    "Fact",
    "FactSchema",
    "FactType",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "compile_rules",
]


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


_CEL_TYPES: dict[FactType, Any] = {
    FactType.INT: cel.Type.INT,
    FactType.MONEY: cel.Type.DOUBLE,
    FactType.NUMBER: cel.Type.DOUBLE,
    FactType.BOOL: cel.Type.BOOL,
    FactType.STRING: cel.Type.STRING,
    FactType.STRING_LIST: cel.Type.List(cel.Type.STRING),
    FactType.TIMESTAMP: cel.Type.TIMESTAMP,
    FactType.DURATION: cel.Type.DURATION,
}

_DEFAULT_MISSING: dict[FactType, Any] = {
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
    entity a run-time failure happened on.
    """

    def __init__(self, problems: Sequence[RuleProblem], *, kind: str = "rule", entity: Any = None):
        self.problems = list(problems)
        first = self.problems[0]
        self.rule = first.rule
        self.source = first.source
        self.message = first.message
        self.entity = entity
        self.kind = kind
        lines = [self._line(p) for p in self.problems]
        super().__init__("; ".join(lines))

    def _line(self, p: RuleProblem) -> str:
        where = f" (line {p.line}, column {p.column})" if p.line is not None else ""
        entity = f" for {self.entity}" if self.entity is not None else ""
        return f"{self.kind} {p.rule!r}{entity}: {p.message}{where}"


# --------------------------------------------------------------------------- compiling

_ERROR_HEAD = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_MIXED = re.compile(r"found no matching overload for '(_[^']+_)' applied to '\((\w+), (\w+)\)'")
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")
_OPERATORS = {"_>_", "_<_", "_>=_", "_<=_", "_==_", "_!=_", "_+_", "_-_", "_*_", "_/_"}
_INT_AFTER = re.compile(r"(?:>=|<=|==|!=|[<>+\-*/])\s*(-?\s*\d+)(?![\w.])")
_INT_BEFORE = re.compile(r"(?<![\w.])(\d+)\s*\Z")


def _cel_errors(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of each error in a cel-expr-python error text."""
    found = []
    for raw in text.splitlines():
        m = _ERROR_HEAD.search(raw)
        if m:
            msg = re.sub(r"\s*\[[A-Z_]+\]\s*$", "", m.group(3)).strip()
            found.append((int(m.group(1)), int(m.group(2)), msg))
    return found


def _offset(source: str, line: int, column: int) -> int:
    lines = source.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def _float_literal(source: str, line: int, column: int, left: str, right: str) -> str | None:
    """`source` with the int literal beside the operator at (line, column) made a double."""
    at = _offset(source, line, column)
    if (left, right) == ("double", "int"):
        m = _INT_AFTER.match(source, at)
        if m:
            return source[: m.end(1)] + ".0" + source[m.end(1) :]
    elif (left, right) == ("int", "double"):
        m = _INT_BEFORE.search(source[:at])
        if m:
            return source[: m.end(1)] + ".0" + source[m.end(1) :]
    return None


def _status(text: str) -> str:
    """An engine status message without its code prefix ("INVALID_ARGUMENT: ...")."""
    return re.sub(r"^[A-Z_]+: ", "", text.strip())


def _explain(message: str, schema: FactSchema) -> str:
    m = _UNDECLARED.search(message)
    if m:
        name = m.group(1)
        text = f"undeclared reference to {name!r}"
        close = difflib.get_close_matches(name, schema.names, n=1)
        return text + (f" (did you mean {close[0]!r}?)" if close else "")
    m = _MIXED.search(message)
    if m and m.group(1) in _OPERATORS:
        return (
            f"{message}: CEL does not mix whole numbers and decimals; money facts are decimals "
            "(a whole-number literal beside one is accepted), whole-number facts such as counts "
            "and days need whole numbers, or write double(x)"
        )
    return message.replace(" (in container '')", "")


def _compile_one(env: Any, name: str, source: str, schema: FactSchema) -> tuple[str, Any]:
    """(the source as compiled, the checked expression); raises RuleError for this rule."""
    text = source
    for _ in range(64):
        try:
            expr = env.compile(text)
        except RuntimeError as exc:
            errors = _cel_errors(str(exc))
            if not errors:
                raise RuleError([RuleProblem(name, source, str(exc).strip())]) from None
            # Make whole-number literals beside money decimals, last first (offsets hold).
            fixed = text
            for line, column, msg in sorted(errors, reverse=True):
                m = _MIXED.search(msg)
                if not m or m.group(1) not in _OPERATORS:
                    break
                changed = _float_literal(fixed, line, column, m.group(2), m.group(3))
                if changed is None:
                    break
                fixed = changed
            else:
                text = fixed
                continue
            # Positions refer to `text`: only give them when it is still the author's source.
            same = text == source
            problems = [
                RuleProblem(
                    name,
                    source,
                    _explain(msg, schema),
                    line if same else None,
                    column if same else None,
                )
                for line, column, msg in errors
            ]
            raise RuleError(problems) from None
        kind = expr.return_type()
        if kind != cel.Type.BOOL:
            raise RuleError(
                [RuleProblem(name, source, f"must be true or false, but gives {kind.name()}")]
            )
        return text, expr
    raise RuleError([RuleProblem(name, source, "too many literals to convert")])


def _referenced(sources: Iterable[str], schema: FactSchema) -> list[str]:
    """Facts named in the rules (identifiers outside string literals), in schema order."""
    words: set[str] = set()
    for s in sources:
        bare = re.sub(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", " ", s)
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))
    return [n for n in schema.names if n in words]


# --------------------------------------------------------------------------- values


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


# --------------------------------------------------------------------------- rule sets


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
        # (name, converter, optional?, when missing, has_ name or None)
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
                f.optional,
                _CONVERT[f.type](
                    _DEFAULT_MISSING[f.type] if f.when_missing is None else f.when_missing
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
        for name, convert, optional, missing, has in self._plan:
            value = get(name, _ABSENT)
            if value is None or value is _ABSENT:
                if not optional:
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
        value = self._combined.eval(data=data)
        if value.type() != self._error:
            return tuple(value.plain_value())
        for name, expr in zip(self.names, self._singles, strict=True):
            one = expr.eval(data=data)
            if one.type() == self._error:
                raise RuleError(
                    [RuleProblem(name, self.sources[name], _status(str(one.value())))],
                    kind=self.kind,
                    entity=self._entity(facts, index),
                )
        raise RuleError(
            [RuleProblem("(all)", "", _status(str(value.value())))],
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
            value = combined(data=data)
            if value.type() != error:
                append(tuple(value.plain_value()))
            else:
                append(run(data, row, i))
        return out


def compile_rules(
    rules: Mapping[str, str],
    schema: FactSchema,
    *,
    kind: str = "rule",
    entity_key: str | None = "customer_id",
) -> RuleSet:
    """Type-check and compile `rules` (name -> CEL source, in order) over `schema`.

    Raises RuleError listing every rule that does not compile or is not true/false.
    `kind` names rules in messages ("stage 'suspend': ..."); `entity_key` is the fact (it
    need not be declared) that names the entity when a rule fails at run time.
    """
    variables = {f.name: _CEL_TYPES[f.type] for f in schema._by_name.values()}
    env = cel.NewEnv(variables=variables)
    names: list[str] = []
    sources: list[str] = []
    compiled: list[str] = []
    singles: list[Any] = []
    problems: list[RuleProblem] = []
    for name, source in rules.items():
        if not isinstance(source, str) or not source.strip():
            problems.append(RuleProblem(name, str(source), "is empty"))
            continue
        try:
            text, expr = _compile_one(env, name, source, schema)
        except RuleError as exc:
            problems.extend(exc.problems)
            continue
        names.append(name)
        sources.append(source)
        compiled.append(text)
        singles.append(expr)
    if problems:
        raise RuleError(problems, kind=kind)
    combined = env.compile("[" + ", ".join(f"({t})" for t in compiled) + "]") if compiled else None
    return RuleSet(
        tuple(names),
        tuple(sources),
        tuple(compiled),
        tuple(singles),
        combined,
        schema,
        kind,
        entity_key,
    )
