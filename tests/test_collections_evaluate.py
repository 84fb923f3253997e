"""The collections decider: pure, from hand-built facts rows."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from collections_builders import AS_OF, STANDARD, customer_facts, policy, row, standard
from riskdesk.collections.evaluate import (
    CONDITION,
    EXEMPT,
    NO_CONDITION,
    PROMISE_HOLDS,
    PROMISE_LIFTS_SUSPENSION,
    decide,
    decide_many,
)
from riskdesk.collections.facts import fact_schema, policy_facts
from riskdesk.collections.policy import parse_policy

GRACE = 3


@pytest.fixture(scope="module")
def std():
    return standard()


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        (0, None),
        (6, None),
        (7, "reminder"),
        (20, "reminder"),
        (21, "final_notice"),
        (29, "final_notice"),
        (30, "suspended"),
        (89, "suspended"),
        (90, "write_off_review"),
        (400, "write_off_review"),
    ],
)
def test_each_stage_is_entered_on_its_day_after_grace(std, days, stage):
    # `days` past due as the policy counts them: raw days since due, less 3 grace days.
    decision = decide(std, row(days=days + GRACE), None, as_of=AS_OF)
    assert decision.stage == stage
    assert decision.facts["days_past_due"] == days
    assert decision.facts["days_since_due"] == days + GRACE
    assert decision.reason == (CONDITION if stage else NO_CONDITION)


def test_grace_counts_from_the_due_date_plus_grace_days(std):
    due = date(2025, 3, 1)
    for as_of, stage in [(date(2025, 3, 10), None), (date(2025, 3, 11), "reminder")]:
        facts = customer_facts(days_past_due=(as_of - due).days, overdue="100", as_of=as_of)
        r = policy_facts(facts, tags=(), created_on=None, promise_until=None, as_of=as_of)
        assert decide(std, r, None, as_of=as_of).stage == stage


def test_no_grace_policy_counts_from_the_due_date():
    p = policy(grace_days=0)
    assert decide(p, row(days=6), None, as_of=AS_OF).stage is None
    assert decide(p, row(days=7), None, as_of=AS_OF).stage == "reminder"


def test_most_severe_matching_stage_wins_and_why_not_is_recorded(std):
    d = decide(std, row(days=40), "reminder", as_of=AS_OF)
    assert d.stage == "suspended"
    assert d.previous_stage == "reminder"
    assert d.matched == "suspended"
    assert dict(d.conditions) == {
        "reminder": True,
        "final_notice": True,
        "suspended": True,
        "write_off_review": False,
    }
    assert "days_past_due >= 30" in d.detail
    assert d.policy_version == std.version
    assert d.changed


def test_exempt_tag_gives_no_stage_and_leaves_the_current_one(std):
    d = decide(std, row(days=200, tags=("enforcement_off", "vip")), "suspended", as_of=AS_OF)
    assert d.stage is None
    assert d.reason == EXEMPT
    assert "enforcement_off" in d.detail
    assert d.matched == "write_off_review"  # what the conditions said, kept for the record


def test_disputed_invoices_do_not_count_as_overdue(std):
    # Everything overdue is disputed: nothing counts, whatever the age.
    d = decide(std, row(days=60, overdue="500", disputed="500"), None, as_of=AS_OF)
    assert d.stage is None
    assert d.facts["days_past_due"] == 0
    assert d.facts["overdue_amount"].amount == 0
    assert "disputed" in d.detail
    # Part disputed: the undisputed rest still counts.
    d = decide(std, row(days=60, overdue="500", disputed="200"), None, as_of=AS_OF)
    assert d.stage == "suspended"
    assert str(d.facts["overdue_amount"].amount) == "300.00"


def test_active_promise_holds_escalation_until_its_date_then_it_resumes(std):
    until = AS_OF + timedelta(days=5)
    d = decide(std, row(days=25, promise_until=until), "reminder", as_of=AS_OF)
    assert d.stage == "reminder"
    assert d.reason == PROMISE_HOLDS
    assert d.matched == "final_notice"
    assert until.isoformat() in d.detail
    # On the promise date itself it still holds ...
    d = decide(std, row(days=33, promise_until=until, as_of=until), "reminder", as_of=until)
    assert d.stage == "reminder"
    # ... the day after, escalation resumes.
    after = until + timedelta(days=1)
    d = decide(std, row(days=34, promise_until=until, as_of=after), "reminder", as_of=after)
    assert d.stage == "suspended"
    assert d.reason == CONDITION


def test_promise_does_not_stop_de_escalation(std):
    d = decide(std, row(days=0, promise_until=AS_OF), "final_notice", as_of=AS_OF)
    assert d.stage is None


def test_promise_from_good_standing_holds_at_good_standing(std):
    d = decide(std, row(days=40, promise_until=AS_OF), None, as_of=AS_OF)
    assert d.stage is None
    assert d.reason == PROMISE_HOLDS


def test_promise_lifts_a_suspension(std):
    d = decide(std, row(days=40, promise_until=AS_OF), "suspended", as_of=AS_OF)
    assert d.stage == "final_notice"
    assert d.reason == PROMISE_LIFTS_SUSPENSION
    d = decide(std, row(days=100, promise_until=AS_OF), "write_off_review", as_of=AS_OF)
    assert d.stage == "final_notice"


def test_promise_without_lifting_keeps_the_suspension():
    p = policy(promise_lifts_suspension="false")
    d = decide(p, row(days=100, promise_until=AS_OF), "suspended", as_of=AS_OF)
    assert d.stage == "suspended"
    assert d.reason == PROMISE_HOLDS


def test_unknown_current_stage_is_left(std):
    d = decide(std, row(days=0), "retired_stage", as_of=AS_OF)
    assert d.stage is None and d.changed


def _random_row(rng, customer_id):
    days = rng.choice([0, 5, 9, 10, 23, 24, 33, 60, 92, 93, 200])
    overdue = rng.choice(["0", "10", "999.99", "60000"])
    return row(
        customer_id,
        days=days,
        overdue=overdue,
        open_balance=rng.choice([overdue, "70000.00"]),
        disputed=rng.choice(["0", "0", "5", overdue]),
        tags=rng.choice([(), ("enforcement_off",), ("vip",)]),
        promise_until=rng.choice([None, None, AS_OF, AS_OF - timedelta(days=1)]),
        limit=rng.choice([None, "1000"]),
    )


@pytest.mark.parametrize("seed", range(5))
def test_decide_many_gives_the_same_decisions_as_decide(seed):
    rng = random.Random(seed)
    p = policy(
        promise_lifts_suspension=rng.choice(["true", "false"]),
        grace_days=rng.choice([0, 3]),
    )
    rows = [_random_row(rng, i) for i in range(300)]
    stages = [None, *p.stage_names, "retired_stage"]
    current = {i: rng.choice(stages) for i in range(300) if rng.random() < 0.8}
    many = decide_many(p, rows, current, AS_OF)
    one = [decide(p, r, current.get(r["customer_id"]), as_of=AS_OF) for r in rows]
    assert many == one
    assert {d.stage for d in many} >= {None, "reminder", "suspended"}


def test_facts_row_matches_the_published_schema(std):
    r = row(days=10, tags=("b", "a"), promise_until=AS_OF)
    schema = fact_schema()
    declared = set(schema.names) - {"has_credit_limit"}
    assert declared <= set(r)
    assert r["tags"] == ("a", "b")
    assert r["has_active_promise"] is True
    assert r["customer_age_days"] == (AS_OF - date(2024, 1, 1)).days


def test_money_conditions_compare_in_the_customers_currency():
    source = STANDARD.read_text().replace(
        "when: days_past_due >= 21", "when: days_past_due >= 21 || overdue_amount > 1000"
    )
    p = parse_policy(source, source="standard.yaml")
    assert decide(p, row(days=12, overdue="1000.00"), None, as_of=AS_OF).stage == "reminder"
    assert decide(p, row(days=12, overdue="1000.01"), None, as_of=AS_OF).stage == "final_notice"
