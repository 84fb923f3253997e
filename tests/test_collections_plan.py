"""The collections planner: only changes become actions, each with a stable key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collections_builders import AS_OF, policy, policy_text, row, standard
from riskdesk.collections.evaluate import decide, decide_many
from riskdesk.collections.plan import (
    NOTIFY,
    OPEN_CASE,
    REACTIVATE,
    SUSPEND,
    plan_transitions,
    transition_key,
)
from riskdesk.collections.policy import parse_policy
from riskdesk.db.models import ActionKind


@pytest.fixture(scope="module")
def std():
    return standard()


def kinds(plan):
    return [(a.kind, a.payload.get("template") or a.payload.get("scope")) for a in plan]


def test_planned_kinds_are_outbox_kinds():
    assert {NOTIFY, SUSPEND, REACTIVATE, OPEN_CASE} <= {k.value for k in ActionKind}


def test_unchanged_stage_plans_nothing(std):
    d = decide(std, row(days=40), "suspended", as_of=AS_OF)
    assert not d.changed
    plan = plan_transitions(std, [d])
    assert list(plan) == [] and plan.transitions == []


def test_entering_each_stage_yields_its_actions(std):
    plan = plan_transitions(std, [decide(std, row(days=10), None, as_of=AS_OF)])
    assert kinds(plan) == [(NOTIFY, "reminder")]
    plan = plan_transitions(std, [decide(std, row(days=24), "reminder", as_of=AS_OF)])
    # Its order block is no action: the run records it with the stage.
    assert kinds(plan) == [(NOTIFY, "final_notice")]
    plan = plan_transitions(std, [decide(std, row(days=33), "final_notice", as_of=AS_OF)])
    assert kinds(plan) == [
        (NOTIFY, "suspended"),
        (SUSPEND, {"kind": "consumption"}),
        (SUSPEND, {"kind": "seat"}),
    ]
    assert all(a.payload["reason"] == "non_payment" for a in plan if a.kind == SUSPEND)
    plan = plan_transitions(std, [decide(std, row(days=93), "suspended", as_of=AS_OF)])
    assert kinds(plan) == [(OPEN_CASE, None)]  # still suspended: nothing reactivated


def test_skipping_stages_applies_their_restrictions(std):
    plan = plan_transitions(std, [decide(std, row(days=33), None, as_of=AS_OF)])
    assert kinds(plan) == [
        (NOTIFY, "suspended"),
        (SUSPEND, {"kind": "consumption"}),
        (SUSPEND, {"kind": "seat"}),
    ]


def test_jumping_past_the_suspending_stage_still_sends_its_notice(std):
    # 93 days on a first run: straight to write_off_review, which only opens a case.
    plan = plan_transitions(std, [decide(std, row(days=96), None, as_of=AS_OF)])
    assert kinds(plan) == [
        (NOTIFY, "suspended"),
        (SUSPEND, {"kind": "consumption"}),
        (SUSPEND, {"kind": "seat"}),
        (OPEN_CASE, None),
    ]


def test_jumping_to_a_stage_that_suspends_also_applies_the_lesser_suspensions():
    from riskdesk.collections.policy import parse_policy
    from run_helpers import TIERED

    tiered = parse_policy(TIERED, source="tiered.yaml")
    plan = plan_transitions(tiered, [decide(tiered, row(days=64), None, as_of=AS_OF)])
    assert kinds(plan) == [
        (NOTIFY, "suspended"),  # the skipped stage's notice: the customer is told
        (SUSPEND, {"kind": "consumption"}),  # the skipped stage's suspension
        (SUSPEND, {"kind": "seat"}),  # the stage's own
    ]
    # From usage_stopped (consumption already held) only the seat is new.
    plan = plan_transitions(tiered, [decide(tiered, row(days=64), "usage_stopped", as_of=AS_OF)])
    assert kinds(plan) == [(SUSPEND, {"kind": "seat"})]


def test_payload_names_transition_stage_and_version(std):
    d = decide(std, row(days=10), None, as_of=AS_OF)
    (action,) = plan_transitions(std, [d])
    assert action.customer_id == 1 and action.stage == "reminder"
    assert action.payload["policy_version"] == std.version
    transition = f"collections:{std.version[:16]}:1:1:reminder:{AS_OF.isoformat()}"
    assert transition_key(std.version, d) == transition
    assert action.payload["transition"] == transition
    assert action.key == f"{transition}:0"
    # The facts are recorded once per transition (its audit event), not in every action.
    assert "facts" not in action.payload


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        ({"days": 0}, "paid"),
        ({"days": 40, "overdue": "100", "disputed": "100"}, "disputed"),
        ({"days": 40, "promise_until": AS_OF + timedelta(days=3)}, "promise made"),
        ({"days": 40, "tags": ("enforcement_off",)}, "exempted"),
    ],
)
def test_leaving_suspended_plans_a_reactivate(std, facts, why):
    d = decide(std, row(**facts), "suspended", as_of=AS_OF)
    assert d.stage != "suspended", why
    plan = plan_transitions(std, [d])
    reactivate = [a for a in plan if a.kind == REACTIVATE]
    assert len(reactivate) == 1
    assert reactivate[0].payload["reason"] == "non_payment"
    # No reminder on the way down: only the policy's reinstatement notice, after the
    # reactivation it confirms.
    notices = [a for a in plan if a.kind == NOTIFY]
    assert [n.payload["template"] for n in notices] == ["reinstated"]
    assert notices[0].payload["announces"] == "reinstatement"
    assert plan.actions.index(notices[0]) > plan.actions.index(reactivate[0])


def test_a_policy_without_a_reinstatement_notice_sends_none():
    quiet = parse_policy(policy_text(reinstatement_notice="null"))
    plan = plan_transitions(quiet, [decide(quiet, row(days=0), "suspended", as_of=AS_OF)])
    assert kinds(plan) == [(REACTIVATE, None)]


def test_leaving_final_notice_for_reminder_plans_nothing(std):
    # Its order block is lifted with the stage by the run (see test_collections_run).
    plan = plan_transitions(std, [decide(std, row(days=10), "final_notice", as_of=AS_OF)])
    assert kinds(plan) == [] and len(plan.transitions) == 1


def test_planning_twice_gives_the_same_keys(std):
    rows = [row(i, days=d) for i, d in enumerate([0, 10, 24, 33, 93, 33])]
    current = {0: "suspended", 5: "suspended"}
    first = plan_transitions(std, decide_many(std, rows, current, AS_OF))
    again = plan_transitions(std, decide_many(std, rows, current, AS_OF))
    assert [a.key for a in first] == [a.key for a in again]
    assert len({a.key for a in first}) == len(first.actions)
    # Another day's transition is another key.
    later = AS_OF + timedelta(days=1)
    other = plan_transitions(std, [decide(std, row(1, days=10, as_of=later), None, as_of=later)])
    assert other.actions[0].key not in {a.key for a in first}


def test_blast_radius_stops_every_suspension_and_alerts():
    p = policy(max_suspensions_per_run=2)
    rows = [row(i, days=33) for i in range(3)] + [row(10, days=10)]
    plan = plan_transitions(p, decide_many(p, rows, {}, AS_OF))
    assert plan.blast_radius_exceeded and "3 customers" in plan.alert
    assert not any(a.kind == SUSPEND for a in plan)
    assert [d.customer_id for d in plan.withheld] == [0, 1, 2]
    assert [d.customer_id for d in plan.transitions] == [10]  # the reminder still goes out
    assert kinds(plan) == [(NOTIFY, "reminder")]


def test_a_person_may_raise_the_limit_for_one_plan():
    p = policy(max_suspensions_per_run=2)
    rows = [row(i, days=33) for i in range(3)]
    decisions = decide_many(p, rows, {}, AS_OF)
    assert plan_transitions(p, decisions).blast_radius_exceeded
    alert = plan_transitions(p, decisions).alert
    assert "a limit of 3" in alert and "--" not in alert  # the planner names no command
    assert "(the policy's max_suspensions_per_run)" in alert
    raised = plan_transitions(p, decisions, max_suspensions=3)
    assert raised.alert is None and sum(a.kind == SUSPEND for a in raised) == 6


def test_a_raised_limit_that_still_holds_says_it_was_this_runs():
    p = policy(max_suspensions_per_run=2)
    decisions = decide_many(p, [row(i, days=33) for i in range(5)], {}, AS_OF)
    alert = plan_transitions(p, decisions, max_suspensions=4).alert
    assert "more than the limit of 4 (the limit this run was given)" in alert
    assert "max_suspensions_per_run" not in alert


def test_blast_radius_at_the_limit_proceeds():
    p = policy(max_suspensions_per_run=3)
    rows = [row(i, days=33) for i in range(3)]
    plan = plan_transitions(p, decide_many(p, rows, {}, AS_OF))
    assert plan.alert is None
    assert sum(a.kind == SUSPEND for a in plan) == 6


def test_already_suspended_customers_do_not_count_toward_the_blast_radius():
    p = policy(max_suspensions_per_run=1)
    rows = [row(i, days=93) for i in range(5)]
    plan = plan_transitions(p, decide_many(p, rows, dict.fromkeys(range(5), "suspended"), AS_OF))
    assert plan.alert is None and len(plan.transitions) == 5


def test_approval_is_decided_in_the_customers_own_currency():
    p = policy(approval_threshold="{EUR: 50000, JPY: 8000000}")

    def suspending(customer_id, overdue, currency):
        d = decide(p, row(customer_id, days=33, overdue=overdue, currency=currency), None,
                   as_of=AS_OF)  # fmt: skip
        return {a.requires_approval for a in plan_transitions(p, [d])}

    assert suspending(1, "60000", "JPY") == {False}  # 60,000 yen is small
    assert suspending(2, "8000001", "JPY") == {True}
    assert suspending(3, "60000", "EUR") == {True}
    assert suspending(4, "10", "BRL") == {True}  # no amount set for reais: a person decides


def test_large_balances_need_approval(std):
    big = decide(std, row(1, days=33, overdue="50000.01"), "final_notice", as_of=AS_OF)
    edge = decide(std, row(2, days=33, overdue="50000.00"), "final_notice", as_of=AS_OF)
    plan = plan_transitions(std, [big, edge])
    assert {a.requires_approval for a in plan if a.customer_id == 1} == {True}
    assert {a.requires_approval for a in plan if a.customer_id == 2} == {False}
    # Reminders never wait for a person, whatever the balance.
    (reminder,) = plan_transitions(
        std, [decide(std, row(3, days=10, overdue="900000"), None, as_of=AS_OF)]
    )
    assert not reminder.requires_approval
