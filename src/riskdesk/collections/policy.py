"""The collections policy: its YAML schema, and `load_policy`, which refuses a bad one whole.

A policy file (see `policies/standard.yaml`) holds global settings and stages ordered from
least to most severe; each stage has a CEL condition over the documented facts
(`riskdesk.collections.facts`) and the actions taken when a customer enters it:

    name: standard
    currency_note: Amounts are in the currency the customer is invoiced in.
    exempt_tags: [enforcement_off]
    grace_days: 3
    max_suspensions_per_run: 50
    approval_threshold: 50000         # or per currency: {EUR: 50000, JPY: 8000000, "*": ...}
    reinstatement: within one business day of payment
    stages:
      - name: reminder
        title: Payment reminder
        when: days_past_due >= 7
        actions:
          - notify: reminder

Actions: `{notify: template}`, `{block_orders: true}`, `{suspend: all}`,
`{suspend: {kind: seat|consumption}}`, `{suspend: {offers: [offer id, ...]}}`,
`{open_case: review}`, `{webhook: https://...}`.

A policy with any problem is refused as a whole: `PolicyError` lists every problem as
`file:line: field: message` (YAML syntax, unknown keys, wrong types, duplicate stage names,
unknown templates or actions, CEL name and type errors per stage). The policy's version is
the sha256 of the file's bytes, so the version recorded with a decision names exactly the
text that was enforced.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
)

from riskdesk.collections._yaml import field_path, line_of, load_located
from riskdesk.collections.facts import fact_schema
from riskdesk.errors import InvalidInputError
from riskdesk.money import CURRENCIES
from riskdesk.rules import RuleError, RuleSet, compile_rules

#: Mail templates a collections policy may name in `notify`: the notices `riskdesk.notify`
#: ships (`notify.templates.NOTICES`; collections may not import notify, so they are named
#: here and a test checks the two agree). `load_policy(..., templates=...)` can widen the set.
COLLECTION_TEMPLATES: frozenset[str] = frozenset(
    {"reminder", "final_notice", "suspended", "reinstated"}
)

ACTION_KINDS = ("notify", "block_orders", "suspend", "open_case", "webhook")

#: How many problems a PolicyError message spells out; `.problems` holds them all.
MESSAGE_PROBLEMS = 30

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


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


# --- actions ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifyAction(_Strict):
    notify: StrictStr

    kind: ClassVar[str] = "notify"


class BlockOrdersAction(_Strict):
    block_orders: Literal[True]

    kind: ClassVar[str] = "block_orders"


class SuspendKind(_Strict):
    kind: Literal["seat", "consumption"]


class SuspendOffers(_Strict):
    offers: list[StrictStr] = Field(min_length=1)


class SuspendAction(_Strict):
    """Suspend the customer's subscriptions: all, one kind, or those of the listed offers."""

    suspend: Literal["all"] | SuspendKind | SuspendOffers

    kind: ClassVar[str] = "suspend"

    @field_validator("suspend", mode="wrap")
    @classmethod
    def _one_message(cls, value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(
                "suspend is `all`, {kind: seat}, {kind: consumption} or {offers: [offer id, ...]}"
                f" (got {value!r})"
            ) from None

    @property
    def scope(self) -> dict[str, Any]:
        """The payload form: {"all": true} | {"kind": "seat"} | {"offers": [...]}."""
        suspend = self.suspend
        if isinstance(suspend, str):
            return {"all": True}
        if isinstance(suspend, SuspendKind):
            return {"kind": suspend.kind}
        return {"offers": list(suspend.offers)}


class OpenCaseAction(_Strict):
    open_case: Literal["review"]

    kind: ClassVar[str] = "open_case"


class WebhookAction(_Strict):
    webhook: StrictStr

    kind: ClassVar[str] = "webhook"

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("a webhook is an http:// or https:// URL")
        return value


def _action_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        return key if key in ACTION_KINDS else None
    return None


Action = Annotated[
    Annotated[NotifyAction, Tag("notify")]
    | Annotated[BlockOrdersAction, Tag("block_orders")]
    | Annotated[SuspendAction, Tag("suspend")]
    | Annotated[OpenCaseAction, Tag("open_case")]
    | Annotated[WebhookAction, Tag("webhook")],
    Discriminator(
        _action_kind,
        custom_error_type="unknown_action",
        custom_error_message=("unknown action: an action is one key of " + ", ".join(ACTION_KINDS)),
    ),
]


# --- stages and the policy ----------------------------------------------------------------


class Stage(_Strict):
    name: StrictStr
    title: StrictStr
    when: StrictStr
    actions: list[Action] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a stage name is lower case letters, digits and _ (e.g. final_notice)")
        return value

    @field_validator("when")
    @classmethod
    def _when(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a condition is required")
        return value

    @property
    def suspends(self) -> bool:
        return any(isinstance(a, SuspendAction) for a in self.actions)

    @property
    def blocks_orders(self) -> bool:
        return any(isinstance(a, BlockOrdersAction) for a in self.actions)


#: In a per-currency `approval_threshold`, the key for every currency not listed.
OTHER_CURRENCIES = "*"


def _amount(value: Any, what: str) -> Decimal:
    amount = _to_decimal(value)
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"{what}: an amount is a number, e.g. 50000")
    if amount < 0:
        raise ValueError(f"{what}: an amount cannot be negative")
    return amount


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # refused below as not a number
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


class PolicySpec(_Strict):
    """The YAML document, as written."""

    name: StrictStr
    currency_note: StrictStr
    exempt_tags: list[StrictStr] = Field(default_factory=list)
    grace_days: StrictInt = Field(ge=0, le=365)
    max_suspensions_per_run: StrictInt = Field(ge=0)
    approval_threshold: Decimal | dict[str, Decimal]
    reinstatement: StrictStr
    promise_lifts_suspension: StrictBool = True
    stages: list[Stage] = Field(min_length=1)

    @field_validator("approval_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for currency, amount in value.items():
                if currency != OTHER_CURRENCIES and currency not in CURRENCIES:
                    raise ValueError(
                        f"{currency!r} is not an ISO 4217 currency code (nor "
                        f"{OTHER_CURRENCIES!r} for every other currency)"
                    )
                out[currency] = _amount(amount, f"approval_threshold for {currency}")
            return out
        return _amount(value, "approval_threshold")

    def approval_threshold_for(self, currency: str | None) -> Decimal | None:
        """The open balance above which suspending a customer invoiced in `currency` waits
        for a person; None: every suspension in that currency waits (no amount was set)."""
        threshold = self.approval_threshold
        if isinstance(threshold, Decimal):
            return threshold
        return threshold.get(currency or "", threshold.get(OTHER_CURRENCIES))


class Policy(PolicySpec):
    """A loaded, checked policy: the spec plus its version and compiled conditions."""

    _version: str = PrivateAttr(default="")
    _source: str = PrivateAttr(default="<policy>")
    _text: str = PrivateAttr(default="")
    _rules: Any = PrivateAttr(default=None)
    _table: Any = PrivateAttr(default=None)

    def stage_table(self) -> StageTable:
        """Per-stage lookups, built once (a policy is frozen)."""
        table = self._table
        if table is None:
            table = StageTable(self.stages)
            self._table = table
        return table

    @property
    def version(self) -> str:
        """sha256 (hex) of the policy file's bytes."""
        return self._version

    @property
    def source(self) -> str:
        return self._source

    @property
    def text(self) -> str:
        """The policy file as it was loaded (kept with each version in `policy_versions`)."""
        return self._text

    @property
    def rules(self) -> RuleSet:
        """The compiled `RuleSet`: one rule per stage, most severe first."""
        return self._rules

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage:
        found = self.stage_table().by_name.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def severity(self, name: str | None) -> int:
        """0 for no stage, 1 for the least severe stage, ...; -1 for a stage not in the policy."""
        return self.stage_table().severity.get(name, -1)

    def holds(self, name: str | None) -> tuple[bool, bool]:
        """(orders blocked, subscriptions suspended) while a customer is at stage `name`.

        Restrictions accumulate: a stage keeps those of every less severe stage, so a customer
        moving from `suspended` up to `write_off_review` stays suspended.
        """
        return self.stage_table().holds.get(name, (False, False))

    def suspend_actions(self, name: str | None) -> list[SuspendAction]:
        """The suspensions in force at stage `name` (its own and those of lesser stages)."""
        return list(self.stage_table().suspend_actions.get(name, ()))


class StageTable:
    """Severity, restrictions held and suspensions in force, per stage name (None: none)."""

    def __init__(self, stages: list[Stage]) -> None:
        self.by_name: dict[str, Stage] = {}
        self.severity: dict[str | None, int] = {None: 0}
        self.holds: dict[str | None, tuple[bool, bool]] = {None: (False, False)}
        self.suspend_actions: dict[str | None, tuple[SuspendAction, ...]] = {None: ()}
        self.suspending: set[str] = set()  # stages with a suspend action of their own
        # Per stage: its actions as (index, kind, action).
        self.actions: dict[str, tuple[tuple[int, str, Any], ...]] = {}
        blocked = suspended = False
        in_force: tuple[SuspendAction, ...] = ()
        for i, s in enumerate(stages, start=1):
            blocked = blocked or s.blocks_orders
            suspended = suspended or s.suspends
            in_force += tuple(a for a in s.actions if isinstance(a, SuspendAction))
            # The first stage of a name wins, as a scan from the least severe would find.
            if s.name in self.by_name:
                continue
            self.by_name[s.name] = s
            self.severity[s.name] = i
            self.holds[s.name] = (blocked, suspended)
            self.suspend_actions[s.name] = in_force
            if s.suspends:
                self.suspending.add(s.name)
            self.actions[s.name] = tuple((k, a.kind, a) for k, a in enumerate(s.actions))


# --- loading ------------------------------------------------------------------------------


def load_policy(path: str | Path, *, templates: Collection[str] | None = None) -> Policy:
    """Read, check and compile the policy at `path`; raise PolicyError listing every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(
            [PolicyProblem(str(path), 1, "(file)", exc.strerror or str(exc))]
        ) from exc
    return parse_policy(data, source=str(path), templates=templates)


def parse_policy(
    data: bytes | str, *, source: str = "<policy>", templates: Collection[str] | None = None
) -> Policy:
    """Check and compile a policy given as text; `source` names it in error messages."""
    raw = data.encode() if isinstance(data, str) else data
    version = hashlib.sha256(raw).hexdigest()
    file = Path(source).name if source != "<policy>" else source
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyProblem(file, 1, "(file)", "not UTF-8 text")]) from exc
    try:
        tree, yaml_problems = load_located(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        column = f", column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error{column}: {what}" + (f" ({context})" if context else "")
        raise PolicyError([PolicyProblem(file, line, "(yaml)", message)]) from exc

    problems = [PolicyProblem(file, p.line, p.field, p.message) for p in yaml_problems]
    if not isinstance(tree, dict):
        problems.append(PolicyProblem(file, 1, "(document)", "a policy is a YAML mapping"))
        raise PolicyError(problems)

    policy: Policy | None = None
    try:
        policy = Policy.model_validate(tree)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            problems.append(
                PolicyProblem(file, line_of(tree, loc), field_path(_clean(loc)), _message(err))
            )
    problems.extend(_stage_problems_raw(tree, file, templates))
    if policy is not None:
        problems.extend(_semantic_problems(policy, tree, file))
    rules, rule_problems = _compile(tree, file)
    problems.extend(rule_problems)
    if problems or policy is None or rules is None:
        raise PolicyError(problems)
    policy._version = version
    policy._source = source
    policy._text = raw.decode("utf-8", "replace")
    policy._rules = rules
    return policy


_TAGS = set(ACTION_KINDS) | {"str", "SuspendKind", "SuspendOffers", "literal['all']"}


def _clean(loc: Iterable[Any]) -> tuple[Any, ...]:
    """Drop pydantic's union tags from a location (`actions.1.suspend.SuspendKind.kind`)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and part in _TAGS and out and out[-1] == part:
            continue  # `notify.notify`: the tag, then the field
        if isinstance(part, str) and (
            part in {"SuspendKind", "SuspendOffers", "str"} or "[" in part
        ):
            continue
        out.append(part)
    return tuple(out)


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    got = err.get("input")
    message = str(err.get("msg", "invalid"))
    if kind.endswith("_type") or kind in {"literal_error", "bool_parsing", "int_parsing"}:
        shown = repr(got)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"{message} (got {shown})"
    return message.removeprefix("Value error, ")


def _stage_problems_raw(
    tree: dict[str, Any], file: str, templates: Collection[str] | None
) -> list[PolicyProblem]:
    """Duplicate names and unknown templates, found even when other fields are wrong."""
    stages = tree.get("stages")
    if not isinstance(stages, list):
        return []
    problems: list[PolicyProblem] = []
    problems.extend(_duplicate_names(stages, tree, file))
    problems.extend(_template_problems(stages, tree, file, templates))
    return problems


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
    stages: list[Any], tree: Any, file: str, templates: Collection[str] | None
) -> list[PolicyProblem]:
    known = COLLECTION_TEMPLATES if templates is None else frozenset(templates)
    problems = []
    for i, stage in enumerate(stages):
        actions = stage.get("actions") if isinstance(stage, dict) else None
        if not isinstance(actions, list):
            continue
        for j, action in enumerate(actions):
            if isinstance(action, dict) and isinstance(action.get("notify"), str):
                name = action["notify"]
                if name not in known:
                    problems.append(
                        PolicyProblem(
                            file,
                            line_of(tree, ("stages", i, "actions", j, "notify")),
                            f"stages[{i}].actions[{j}].notify",
                            f"unknown template {name!r} (known: {', '.join(sorted(known))})",
                        )
                    )
    return problems


def _semantic_problems(policy: Policy, tree: Any, file: str) -> list[PolicyProblem]:
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


def _compile(tree: dict[str, Any], file: str) -> tuple[RuleSet | None, list[PolicyProblem]]:
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
                    f"stage {p.rule!r}: {p.message}{where}",
                )
            )
        return None, problems
