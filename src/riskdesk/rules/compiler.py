"""Compiling rules: type-checking each against the fact schema, once, when a policy loads.

A whole-number literal beside a money (double) operand is rewritten to a double and the
rule compiled again; every other engine error becomes a `RuleProblem` naming the rule, with
line and column when they still refer to the author's source.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel

from riskdesk.rules.evaluate import RuleSet
from riskdesk.rules.problems import RuleError, RuleProblem
from riskdesk.rules.schema import FactSchema, FactType

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


def _status_line(text: str) -> str:
    """The first line of an engine error, without its status codes."""
    line = text.strip().splitlines()[0] if text.strip() else "the engine refused it"
    return re.sub(r"\s*\[[A-Z_]+\]\s*$", "", re.sub(r"^[A-Z_]+: ", "", line))


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
    combined = None
    if compiled:
        try:
            combined = env.compile("[" + ", ".join(f"({t})" for t in compiled) + "]")
        except RuntimeError as exc:  # e.g. "expression size exceeds codepoint limit"
            message = _status_line(str(exc))
            raise RuleError(
                [RuleProblem("(all)", "", f"the {kind}s together: {message}")], kind=kind
            ) from None
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
