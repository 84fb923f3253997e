"""The published policy is generated from the enforced one."""

from __future__ import annotations

import html

import pytest

from collections_builders import STANDARD, standard
from riskdesk.collections.document import condition_in_words, render_policy_document
from riskdesk.collections.policy import parse_policy

SENTENCES = [
    "If an invoice is 7 days overdue, we send you a payment reminder.",
    "If an invoice is 21 days overdue, we send you a final notice and you cannot place new orders.",
    "If an invoice is 30 days overdue, we notify you and all your subscriptions are suspended, "
    "pay-as-you-go subscriptions first; they are restored within one business day of payment.",
    "If an invoice is 90 days overdue, your account is referred for write-off review.",
    "A disputed invoice does not count as overdue while the dispute is open.",
    "We allow 3 days' grace after an invoice's due date",
    "an invoice due on 1 March is 7 days overdue on 11 March",
    "If you promise to pay by a date we agree, we take no further step while the promise stands",
    "If the date passes without payment, the steps resume.",
    "are not subject to these steps",
    "A payment is applied to the invoices it names, and otherwise to your oldest open invoices "
    "first.",
    "pay part of it and you move back to the step your oldest invoice still overdue calls for",
    "Subscriptions suspended for non-payment are restored within one business day of payment, "
    "and you can place orders again; we confirm by e-mail which subscriptions are active again.",
]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_shipped_policy_document_has_the_sentences(fmt):
    policy = standard()
    text = render_policy_document(policy, fmt)
    flat = _flat(html.unescape(text) if fmt == "html" else text)
    for sentence in SENTENCES:
        assert sentence in flat
    assert "enforcement_off" in flat
    assert policy.version in flat
    for condition in ("days_past_due >= 7", "days_past_due >= 30", "days_past_due >= 90"):
        assert condition in flat
    assert "overdue_amount" in flat  # the facts are published
    if fmt == "html":
        assert text.lstrip().startswith("<!doctype html>")
        assert '<li id="stage-suspended">' in text


def test_document_follows_the_policy():
    text = (
        STANDARD.read_text()
        .replace("days_past_due >= 30", "days_past_due >= 45 && overdue_amount > 1000")
        .replace("grace_days: 3", "grace_days: 0")
        .replace("within one business day of payment", "within two hours of payment")
    )
    doc = _flat(render_policy_document(parse_policy(text, source="p.yaml")))
    assert (
        "If an invoice is 45 days overdue and the overdue amount is more than 1,000, we notify "
        "you and all your subscriptions are suspended" in doc
    )
    assert "they are restored within two hours of payment" in doc
    assert "There is no grace period" in doc


def test_the_document_promises_a_confirmation_only_when_the_policy_sends_one():
    text = STANDARD.read_text().replace(
        "reinstatement_notice: reinstated", "reinstatement_notice: null"
    )
    doc = _flat(render_policy_document(parse_policy(text, source="p.yaml")))
    assert "you can place orders again." in doc
    assert "we confirm by e-mail" not in doc


def test_untranslated_conditions_are_shown_exactly():
    text = STANDARD.read_text().replace(
        "when: days_past_due >= 7", "when: days_past_due >= 7 || unbilled_usage > 500"
    )
    doc = render_policy_document(parse_policy(text, source="p.yaml"))
    assert "If this condition holds: `days_past_due >= 7 || unbilled_usage > 500`" in doc


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("days_past_due > 10", "an invoice is more than 10 days overdue"),
        ("(overdue_amount >= 250.5)", "the overdue amount is at least 250.5"),
        ("has_credit_limit && exposure > credit_limit", None),
        ("'strategic' in tags && !has_active_promise", None),
        ("unpaid_invoice_count >= 3", "you have 3 or more unpaid invoices"),
        ("size(tags) > 2", None),
    ],
)
def test_condition_shapes(condition, words):
    got = condition_in_words(condition)
    if words is None:
        if condition.startswith("has_credit_limit"):
            assert got.startswith("you have a credit limit and your exposure")
        elif condition.startswith("'strategic'"):
            assert got == (
                "your account is marked 'strategic' and you have no promise to pay in force"
            )
        else:
            assert got is None
    else:
        assert got == words


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render_policy_document(standard(), "pdf")
