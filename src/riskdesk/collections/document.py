"""The customer-facing collections policy, generated from the policy that is enforced.

`render_policy_document(policy, "md" | "html")` writes the policy in plain language from the
same `Policy` object the evaluator runs, so the published text and the enforced rules cannot
drift apart. Common condition shapes become sentences (`days_past_due >= 30` -> "an invoice is
30 days overdue"; `overdue_amount > 1000` -> "the overdue amount is more than 1,000"; `&&` ->
"and"); every stage also shows its exact condition, and a condition with a shape not
recognised is shown as it is.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal, cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from riskdesk.collections.facts import published_facts
from riskdesk.collections.policy import (
    BlockOrdersAction,
    NotifyAction,
    OpenCaseAction,
    Policy,
    Stage,
    SuspendAction,
    SuspendKind,
    SuspendOffers,
    WebhookAction,
)

NOTICE_PHRASES = {
    "reminder": "we send you a payment reminder",
    "final_notice": "we send you a final notice",
    "suspended": "we tell you that your subscriptions are suspended",
    "reinstated": "we tell you that your subscriptions are restored",
}

_LABELS = {
    "overdue_amount": "the overdue amount",
    "open_balance": "your open balance",
    "exposure": "your exposure (open balance, usage not yet invoiced and open orders)",
    "unbilled_usage": "your usage not yet invoiced",
    "disputed_amount": "the disputed amount",
    "credit_limit": "your credit limit",
}
_MORE = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most", "==": "exactly"}
_NUMBER = r"\d+(?:\.\d+)?"


def _amount(text: str) -> str:
    value = Decimal(text)
    return f"{value:,}"


def _clause(text: str) -> str | None:
    """One condition clause as words, or None when its shape is not one we translate."""
    t = text.strip()
    while t.startswith("(") and t.endswith(")") and _balanced(t[1:-1]):
        t = t[1:-1].strip()
    m = re.fullmatch(r"days_past_due\s*(>=|>)\s*(\d+)", t)
    if m:
        n = int(m.group(2))
        return (
            f"an invoice is {n} days overdue"
            if m.group(1) == ">="
            else (f"an invoice is more than {n} days overdue")
        )
    m = re.fullmatch(rf"(\w+)\s*(>=|>|<=|<|==)\s*({_NUMBER})", t)
    if m and m.group(1) in _LABELS:
        return f"{_LABELS[m.group(1)]} is {_MORE[m.group(2)]} {_amount(m.group(3))}"
    m = re.fullmatch(r"(\w+)\s*(>=|>|<=|<)\s*(\w+)", t)
    if m and m.group(1) in _LABELS and m.group(3) in _LABELS:
        return f"{_LABELS[m.group(1)]} is {_MORE[m.group(2)]} {_LABELS[m.group(3)]}"
    m = re.fullmatch(r"unpaid_invoice_count\s*(>=|>)\s*(\d+)", t)
    if m:
        n = int(m.group(2)) + (1 if m.group(1) == ">" else 0)
        return f"you have {n} or more unpaid invoices"
    m = re.fullmatch(r"customer_age_days\s*(<|<=)\s*(\d+)", t)
    if m:
        return f"your account is {_MORE[m.group(1)]} {int(m.group(2))} days old"
    if t == "has_credit_limit":
        return "you have a credit limit"
    if t == "has_active_promise":
        return "you have promised to pay by a date that has not passed"
    if t == "!has_active_promise":
        return "you have no promise to pay in force"
    m = re.fullmatch(r"""(['"])([^'"]+)\1\s+in\s+tags""", t)
    if m:
        return f"your account is marked '{m.group(2)}'"
    m = re.fullmatch(r"""!\s*\(\s*(['"])([^'"]+)\1\s+in\s+tags\s*\)""", t)
    if m:
        return f"your account is not marked '{m.group(2)}'"
    return None


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _split_and(text: str) -> list[str] | None:
    """Top-level `&&` clauses, or None when the condition has `||` or `?:` at the top."""
    parts, depth, start, i = [], 0, 0, 0
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith("&&", i):
            parts.append(text[start:i])
            start = i + 2
            i += 1
        elif depth == 0 and (text.startswith("||", i) or ch == "?"):
            return None
        i += 1
    parts.append(text[start:])
    return parts


def condition_in_words(condition: str) -> str | None:
    """A condition as a phrase ("an invoice is 30 days overdue"), or None if not translated."""
    clauses = _split_and(" ".join(condition.split()))
    if not clauses:
        return None
    words = [_clause(c) for c in clauses]
    if any(w is None for w in words):
        return None
    return " and ".join(w for w in words if w)


def _suspension_phrase(actions: list[SuspendAction]) -> str:
    scopes = [a.suspend for a in actions]
    kinds = [s.kind for s in scopes if isinstance(s, SuspendKind)]
    if "all" in scopes or {"seat", "consumption"} <= set(kinds):
        phrase = "all your subscriptions are suspended"
        if kinds[:1] == ["consumption"] and "all" not in scopes:
            phrase += ", pay-as-you-go subscriptions first"
        return phrase
    parts = []
    for s in scopes:
        if isinstance(s, SuspendKind):
            parts.append(
                "your pay-as-you-go (consumption) subscriptions"
                if s.kind == "consumption"
                else "your licence-based subscriptions"
            )
        else:
            parts.append("your subscriptions to " + ", ".join(cast(SuspendOffers, s).offers))
    return " and ".join(parts) + " are suspended"


def consequences(policy: Policy, stage: Stage) -> list[str]:
    """What happens on entering `stage`, as phrases; a suspension comes last."""
    out: list[str] = []
    suspends = [a for a in stage.actions if isinstance(a, SuspendAction)]
    for action in stage.actions:
        if isinstance(action, NotifyAction):
            if action.notify == "suspended" and suspends:
                out.append("we notify you")
            else:
                out.append(
                    NOTICE_PHRASES.get(action.notify, f"we send you a notice ({action.notify})")
                )
        elif isinstance(action, BlockOrdersAction):
            out.append("you cannot place new orders")
        elif isinstance(action, OpenCaseAction):
            out.append("your account is referred for write-off review")
        elif isinstance(action, WebhookAction):
            out.append("our systems are notified")
    if suspends:
        out.append(_suspension_phrase(suspends))
    return out


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def stage_sentence(policy: Policy, stage: Stage) -> str:
    """ "If an invoice is 30 days overdue, ...; they are restored within ... of payment."."""
    words = condition_in_words(stage.when)
    what = consequences(policy, stage)
    body = _join(what) if what else "your account moves to this step"
    head = f"If {words}" if words else f"If this condition holds: `{stage.when.strip()}`"
    sentence = f"{head}, {body}"
    if stage.suspends:
        sentence += f"; they are restored {policy.reinstatement}"
    return sentence + "."


def _grace_example(policy: Policy) -> str:
    first = None
    for stage in policy.stages:
        m = re.fullmatch(r"\s*days_past_due\s*>=\s*(\d+)\s*", stage.when)
        if m:
            first = int(m.group(1))
            break
    n = 7 if first is None else first
    due = date(2025, 3, 1)
    day = due + timedelta(days=policy.grace_days + n)
    return f"an invoice due on 1 March is {n} days overdue on {day.day} {day:%B}"


def document_context(policy: Policy) -> dict[str, Any]:
    """What the templates render: everything taken from the policy itself."""
    first_suspending = next((s for s in policy.stages if s.suspends), None)
    return {
        "policy": policy,
        "stages": [
            {
                "number": i,
                "name": s.name,
                "title": s.title,
                "sentence": stage_sentence(policy, s),
                "condition": " ".join(s.when.split()),
                "translated": condition_in_words(s.when) is not None,
            }
            for i, s in enumerate(policy.stages, start=1)
        ],
        "grace_days": policy.grace_days,
        "grace_example": _grace_example(policy),
        "exempt_tags": list(policy.exempt_tags),
        "reinstatement": policy.reinstatement,
        "reinstatement_notice": bool(policy.reinstatement_notice),
        "suspension_stage": first_suspending.title if first_suspending else None,
        "promise_lifts_suspension": policy.promise_lifts_suspension and bool(first_suspending),
        "facts": published_facts(),
        "version": policy.version,
        "short_version": policy.version[:12],
    }


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("riskdesk.collections", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_policy_document(policy: Policy, format: Literal["md", "html"] = "md") -> str:
    """The published policy as Markdown or a standalone HTML page."""
    if format not in ("md", "html"):
        raise ValueError(f"format is 'md' or 'html', not {format!r}")
    template = _environment().get_template(f"policy.{format}")
    return template.render(**document_context(policy))
