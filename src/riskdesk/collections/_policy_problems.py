"""How a refused policy is reported: `PolicyProblem`, `PolicyError`, and the checks.

Every check works on the located YAML tree (`riskdesk.collections._yaml`), so a problem names
the file, the line and the field, and problems in different fields are all found in one pass
even when the document does not validate. A problem inside a stage also names the stage
(`stage 'suspended'`), whether it is a wrong field, a missing condition, a CEL error or a YAML
syntax error on one of the stage's lines.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from riskdesk.collections._yaml import YamlProblem, field_path, line_of
from riskdesk.collections.facts import fact_schema
from riskdesk.errors import InvalidInputError
from riskdesk.rules import RuleError, RuleSet, compile_rules

if TYPE_CHECKING:
    from riskdesk.collections.policy import Policy

#: How many problems a PolicyError message spells out; `.problems` holds them all.
MESSAGE_PROBLEMS = 30


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem: `file:line: field: [stage 'name': ]message`."""

    file: str
    line: int
    field: str
    message: str
    stage: str | None = None  # the name of the stage the problem is in, when it has one

    def __str__(self) -> str:
        where = f"stage {self.stage!r}: " if self.stage else ""
        return f"{self.file}:{self.line}: {self.field}: {where}{self.message}"


class PolicyError(InvalidInputError):
    """A policy was refused as a whole. `.problems` lists every problem found."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.field))
        shown = [str(p) for p in self.problems[:MESSAGE_PROBLEMS]]
        if len(self.problems) > len(shown):
            shown.append(f"... and {len(self.problems) - len(shown)} more")
        file = self.problems[0].file if self.problems else "policy"
        head = f"{file}: policy refused, {len(self.problems)} problem(s); nothing was changed"
        super().__init__("\n".join([head, *shown]))


class PolicyFileError(PolicyError):
    """The policy file cannot be read (missing, a directory, not readable): one line naming
    the path as given and, when it was relative, where it was looked for."""

    def __init__(self, path: Path, reason: str) -> None:
        self.problems = [PolicyProblem(str(path), 1, "(file)", reason)]
        where = "" if path.is_absolute() else f" (looked for {path.absolute()})"
        InvalidInputError.__init__(self, f"{path}: collections policy {reason}{where}")


# --- where a problem is: the stage ----------------------------------------------------------


def _stage_name(tree: Any, loc: Sequence[Any]) -> str | None:
    """The name of the stage `loc` (`("stages", i, ...)`) points into, if it has one."""
    if len(loc) < 2 or loc[0] != "stages" or not isinstance(loc[1], int):
        return None
    stages = tree.get("stages") if isinstance(tree, Mapping) else None
    if not isinstance(stages, list) or not 0 <= loc[1] < len(stages):
        return None
    stage = stages[loc[1]]
    name = stage.get("name") if isinstance(stage, Mapping) else None
    return name if isinstance(name, str) and name else None


_ITEM = re.compile(r"^([ \t]*)-(?:[ \t]+|$)")
_NAME_KEY = re.compile(r"""^[ \t]*(?:-[ \t]+)?name[ \t]*:[ \t]*['"]?([^'"\s#]+)""")


def stage_at_line(text: str, line: int) -> tuple[int, str | None] | None:
    """(index, name) of the block-style stage that line `line` (1-based) is in, or None.

    For problems found before there is a tree (a YAML syntax error): reads the lines of the
    top-level `stages:` list up to and including `line`.
    """
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"^stages[ \t]*:[ \t]*$", ln)), None)
    if start is None or line - 1 <= start:
        return None
    index, name, indent = -1, None, None
    for ln in lines[start + 1 : line]:
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        if not ln[0].isspace() and not ln.startswith("-"):
            return None  # past the list: a top-level key
        item = _ITEM.match(ln)
        if item and (indent is None or len(item.group(1)) == indent):
            indent = len(item.group(1))
            index, name = index + 1, None
        found = _NAME_KEY.match(ln)
        if found and name is None and index >= 0:
            name = found.group(1)
    return (index, name) if index >= 0 else None


# --- YAML syntax -----------------------------------------------------------------------------


def yaml_syntax_problem(exc: yaml.YAMLError, text: str, file: str) -> PolicyProblem:
    """A YAML syntax error as one problem on its line, naming the stage it is in."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    column = f", column {mark.column + 1}" if mark is not None else ""
    what = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error{column}: {what}" + (f" ({context})" if context else "")
    if "'\\t'" in what:
        message += "; YAML is indented with spaces, not tabs"
    found = stage_at_line(text, line)
    if found is None:
        return PolicyProblem(file, line, "(yaml)", message)
    index, name = found
    return PolicyProblem(file, line, f"stages[{index}] (yaml)", message, stage=name)


def yaml_key_problems(problems: Iterable[YamlProblem], file: str) -> list[PolicyProblem]:
    """Duplicate and unhashable mapping keys the located loader noted."""
    return [PolicyProblem(file, p.line, p.field, p.message) for p in problems]


# --- the schema --------------------------------------------------------------------------------


def _clean(loc: Iterable[Any]) -> tuple[Any, ...]:
    """Drop pydantic's union tags from a location (`actions.1.suspend.SuspendKind.kind`)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and out and out[-1] == part:
            continue  # `notify.notify`: the discriminator's tag, then the field
        if isinstance(part, str) and (
            part in {"SuspendKind", "SuspendOffers", "str"} or "[" in part
        ):
            continue
        out.append(part)
    return tuple(out)


def _message(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        if len(loc) == 3 and loc[0] == "stages" and loc[2] == "when":
            return "a condition is required (when: a CEL expression over the facts)"
        return "required"
    got = err.get("input")
    message = str(err.get("msg", "invalid"))
    if kind.endswith("_type") or kind in {"literal_error", "bool_parsing", "int_parsing"}:
        shown = repr(got)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"{message} (got {shown})"
    return message.removeprefix("Value error, ")


def validation_problems(exc: ValidationError, tree: Any, file: str) -> list[PolicyProblem]:
    """Pydantic's errors, each on the line of its field, naming the stage it is in."""
    problems = []
    for err in exc.errors():
        loc = _clean(err["loc"])
        problems.append(
            PolicyProblem(
                file,
                line_of(tree, loc),
                field_path(loc),
                _message(err, loc),
                stage=_stage_name(tree, loc),
            )
        )
    return problems


# --- checks over the tree ----------------------------------------------------------------------


def stage_problems(
    tree: Mapping[str, Any], file: str, templates: Collection[str]
) -> list[PolicyProblem]:
    """Duplicate names and unknown templates, found even when other fields are wrong."""
    stages = tree.get("stages")
    if not isinstance(stages, list):
        return []
    return [
        *_duplicate_names(stages, tree, file),
        *_template_problems(stages, tree, file, templates),
    ]


def _duplicate_names(stages: list[Any], tree: Any, file: str) -> list[PolicyProblem]:
    seen: dict[str, int] = {}
    problems = []
    for i, stage in enumerate(stages):
        name = stage.get("name") if isinstance(stage, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(
                PolicyProblem(
                    file,
                    line_of(tree, ("stages", i, "name")),
                    f"stages[{i}].name",
                    f"duplicate stage name {name!r} (also stages[{seen[name]}])",
                )
            )
        else:
            seen[name] = i
    return problems


def _template_problems(
    stages: list[Any], tree: Any, file: str, known: Collection[str]
) -> list[PolicyProblem]:
    problems = []
    for i, stage in enumerate(stages):
        actions = stage.get("actions") if isinstance(stage, dict) else None
        if not isinstance(actions, list):
            continue
        for j, action in enumerate(actions):
            if isinstance(action, dict) and isinstance(action.get("notify"), str):
                name = action["notify"]
                if name not in known:
                    loc = ("stages", i, "actions", j, "notify")
                    problems.append(
                        PolicyProblem(
                            file,
                            line_of(tree, loc),
                            field_path(loc),
                            f"unknown template {name!r} (known: {', '.join(sorted(known))})",
                            stage=_stage_name(tree, loc),
                        )
                    )
    name = tree.get("reinstatement_notice") if isinstance(tree, dict) else None
    if isinstance(name, str) and name not in known:
        problems.append(
            PolicyProblem(
                file,
                line_of(tree, ("reinstatement_notice",)),
                "reinstatement_notice",
                f"unknown template {name!r} (known: {', '.join(sorted(known))})",
            )
        )
    return problems


def semantic_problems(policy: Policy, tree: Any, file: str) -> list[PolicyProblem]:
    """Problems of a policy that validates: settings that contradict its stages."""
    problems = []
    if policy.max_suspensions_per_run == 0 and any(s.suspends for s in policy.stages):
        problems.append(
            PolicyProblem(
                file,
                line_of(tree, ("max_suspensions_per_run",)),
                "max_suspensions_per_run",
                "0 would stop every suspension; at least 1",
            )
        )
    return problems


#: The most stages a policy may have, and the longest condition (characters). All conditions
#: are compiled into one CEL expression, and CEL refuses one above 100,000 code points:
#: 50 stages of 1,000 characters stay well inside it (the shipped policy has 5 stages, its
#: longest condition 80 characters).
MAX_STAGES = 50
MAX_CONDITION_CHARS = 1000


def limit_problems(tree: Mapping[str, Any], file: str) -> list[PolicyProblem]:
    """Too many stages, or a condition too long: checked before anything is compiled."""
    stages = tree.get("stages")
    if not isinstance(stages, list):
        return []
    if len(stages) > MAX_STAGES:
        return [
            PolicyProblem(
                file,
                line_of(tree, ("stages",)),
                "stages",
                f"{len(stages)} stages: a policy has at most {MAX_STAGES}",
            )
        ]
    problems = []
    for i, stage in enumerate(stages):
        when = stage.get("when") if isinstance(stage, dict) else None
        if isinstance(when, str) and len(when) > MAX_CONDITION_CHARS:
            name = stage.get("name")
            problems.append(
                PolicyProblem(
                    file,
                    line_of(tree, ("stages", i, "when")),
                    f"stages[{i}].when",
                    f"the condition has {len(when):,} characters: at most {MAX_CONDITION_CHARS:,}",
                    stage=name if isinstance(name, str) else None,
                )
            )
    return problems


def compile_conditions(
    tree: Mapping[str, Any], file: str
) -> tuple[RuleSet | None, list[PolicyProblem]]:
    """Compile every stage's condition, most severe first (so `first_match` is the stage).

    Works on the YAML tree, so conditions are checked even when other fields are wrong;
    `compile_rules` reports every bad rule, each a problem on the line of that stage's `when`.
    """
    stages = tree.get("stages")
    if not isinstance(stages, list):
        return None, []
    index: dict[str, int] = {}
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            continue
        name, when = stage.get("name"), stage.get("when")
        if isinstance(name, str) and isinstance(when, str) and when.strip() and name not in index:
            index[name] = i
    ordered = {name: stages[i]["when"] for name, i in reversed(index.items())}
    try:
        return compile_rules(ordered, fact_schema(), kind="stage"), []
    except RuleError as exc:
        problems = []
        for p in exc.problems:
            i = index.get(p.rule, 0)
            where = f" (column {p.column})" if p.column is not None and p.line == 1 else ""
            problems.append(
                PolicyProblem(
                    file,
                    line_of(tree, ("stages", i, "when")),
                    f"stages[{i}].when",
                    f"{p.message}{where}",
                    stage=p.rule,
                )
            )
        return None, problems
