"""The collections policy: its YAML schema, and `load_policy`, which refuses a bad one whole.

A policy file (the shipped one is package data, `riskdesk/policies/standard.yaml`, read by
`load_shipped_policy` wherever riskdesk is installed) holds global settings and stages ordered from
least to most severe; each stage has a CEL condition over the documented facts
(`riskdesk.collections.facts`) and the actions taken when a customer enters it:

    name: standard
    currency_note: Amounts are in the currency the customer is invoiced in.
    exempt_tags: [enforcement_off]
    grace_days: 3
    max_suspensions_per_run: 50
    approval_threshold: 50000         # or per currency: {EUR: 50000, JPY: 8000000, "*": ...}
    reinstatement: within one business day of payment
    reinstatement_notice: reinstated  # the default; null: no notice when access is restored
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
`file:line: field: message`, with `stage 'name': ` before the message of a problem inside a
stage (YAML syntax, unknown keys, wrong types, a missing condition, duplicate stage names,
unknown templates or actions, CEL name and type errors; more than `MAX_STAGES` (50) stages
or a condition longer than `MAX_CONDITION_CHARS` (1,000) is refused before anything is
compiled). A file that cannot be read is one
`PolicyFileError` naming the path. The policy's version is
the sha256 of the file's bytes, so the version recorded with a decision names exactly the
text that was enforced.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from decimal import Decimal
from importlib import resources
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

from riskdesk.collections._policy_problems import (
    MAX_CONDITION_CHARS,
    MAX_STAGES,
    MESSAGE_PROBLEMS,
    PolicyError,
    PolicyFileError,
    PolicyProblem,
    compile_conditions,
    limit_problems,
    semantic_problems,
    stage_problems,
    validation_problems,
    yaml_key_problems,
    yaml_syntax_problem,
)
from riskdesk.collections._yaml import load_located
from riskdesk.money import CURRENCIES
from riskdesk.rules import RuleSet

#: Mail templates a collections policy may name in `notify`: the notices `riskdesk.notify`
#: ships (`notify.templates.NOTICES`; collections may not import notify, so they are named
#: here and a test checks the two agree). `load_policy(..., templates=...)` can widen the set.
COLLECTION_TEMPLATES: frozenset[str] = frozenset(
    {"reminder", "final_notice", "suspended", "reinstated"}
)

ACTION_KINDS = ("notify", "block_orders", "suspend", "open_case", "webhook")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

__all__ = [  # PolicyError and PolicyProblem live in _policy_problems and are re-exported here
    "ACTION_KINDS",
    "COLLECTION_TEMPLATES",
    "MAX_CONDITION_CHARS",
    "MAX_STAGES",
    "MESSAGE_PROBLEMS",
    "OTHER_CURRENCIES",
    "Action",
    "BlockOrdersAction",
    "NotifyAction",
    "OpenCaseAction",
    "Policy",
    "PolicyError",
    "PolicyFileError",
    "PolicyProblem",
    "PolicySpec",
    "Stage",
    "StageTable",
    "SuspendAction",
    "SuspendKind",
    "SuspendOffers",
    "WebhookAction",
    "load_policy",
    "SHIPPED_POLICY",
    "load_shipped_policy",
    "parse_policy",
]


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
    #: The notice that confirms access was restored (None: the customer is not told).
    reinstatement_notice: StrictStr | None = "reinstated"
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


#: The policy riskdesk ships, package data (`riskdesk/policies/standard.yaml`): found wherever
#: riskdesk is installed, whatever the current directory.
SHIPPED_POLICY = "standard.yaml"


def load_shipped_policy(
    name: str = SHIPPED_POLICY, *, templates: Collection[str] | None = None
) -> Policy:
    """The shipped standard policy, read from the installed package."""
    resource = resources.files("riskdesk").joinpath("policies", name)
    return parse_policy(resource.read_bytes(), source=str(resource), templates=templates)


def load_policy(path: str | Path, *, templates: Collection[str] | None = None) -> Policy:
    """Read, check and compile the policy at `path` (a relative path is read from the current
    directory); raise PolicyError listing every problem, PolicyFileError if it cannot be read.
    """
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PolicyFileError(path, "not found: no such file") from exc
    except IsADirectoryError as exc:
        raise PolicyFileError(path, "is a directory, not a file") from exc
    except OSError as exc:
        raise PolicyFileError(path, f"cannot be read: {exc.strerror or exc}") from exc
    return parse_policy(data, source=str(path), templates=templates)


def parse_policy(
    data: bytes | str, *, source: str = "<policy>", templates: Collection[str] | None = None
) -> Policy:
    """Check and compile a policy given as text; `source` names it in error messages."""
    try:
        return _parse_policy(data, source=source, templates=templates)
    except RecursionError:  # YAML (or a value in it) nested hundreds of levels deep
        file = Path(source).name if source != "<policy>" else source
        raise PolicyError(
            [PolicyProblem(file, 1, "(document)", "nested too deeply to be a policy")]
        ) from None


def _parse_policy(data: bytes | str, *, source: str, templates: Collection[str] | None) -> Policy:
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
        raise PolicyError([yaml_syntax_problem(exc, text, file)]) from exc

    problems = yaml_key_problems(yaml_problems, file)
    if not isinstance(tree, dict):
        problems.append(PolicyProblem(file, 1, "(document)", "a policy is a YAML mapping"))
        raise PolicyError(problems)
    too_big = limit_problems(tree, file)
    if too_big:
        raise PolicyError(problems + too_big)

    policy: Policy | None = None
    try:
        policy = Policy.model_validate(tree)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, tree, file))
    known = COLLECTION_TEMPLATES if templates is None else frozenset(templates)
    problems.extend(stage_problems(tree, file, known))
    if policy is not None:
        problems.extend(semantic_problems(policy, tree, file))
    rules, rule_problems = compile_conditions(tree, file)
    problems.extend(rule_problems)
    if problems or policy is None or rules is None:
        raise PolicyError(problems)
    policy._version = version
    policy._source = source
    policy._text = text
    policy._rules = rules
    return policy
