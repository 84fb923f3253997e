"""A policy too big for CEL, and a condition too costly at run time, are errors naming the
limit, the stage and the customer, never an engine traceback (issue 13 item 7)."""

from __future__ import annotations

import pytest

from collections_builders import AS_OF, STANDARD, row
from riskdesk.collections.evaluate import decide_many
from riskdesk.collections.policy import MAX_CONDITION_CHARS, MAX_STAGES, PolicyError, parse_policy
from riskdesk.errors import RiskdeskError
from riskdesk.rules import RuleError

HEAD = STANDARD.read_text().split("stages:")[0] + "stages:\n"


def _stages(count: int, when: str = "days_past_due >= {i}") -> str:
    return HEAD + "".join(
        f"  - name: s{i}\n    title: Stage {i}\n    when: {when.format(i=i)}\n"
        for i in range(count)
    )


def test_5000_stages_are_refused_naming_the_limit():
    with pytest.raises(PolicyError) as caught:
        parse_policy(_stages(5000), source="big.yaml")
    text = str(caught.value)
    assert f"stages: 5000 stages: a policy has at most {MAX_STAGES}" in text
    assert text.startswith("big.yaml: policy refused")


def test_the_most_stages_allowed_load():
    assert len(parse_policy(_stages(MAX_STAGES)).stages) == MAX_STAGES


def test_a_condition_too_long_is_refused_naming_stage_and_limit():
    long = " || ".join(["days_past_due == 1"] * 100)  # 2,196 characters
    text = _stages(2).replace("when: days_past_due >= 1", f"when: {long}")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="long.yaml")
    message = str(caught.value)
    assert f"stages[1].when: stage 's1': the condition has {len(long):,} characters" in message
    assert f"at most {MAX_CONDITION_CHARS:,}" in message


def test_the_longest_conditions_allowed_all_compile_together():
    clause = "days_past_due == 1 || "
    long = clause * ((MAX_CONDITION_CHARS - 20) // len(clause)) + "days_past_due == 2"
    assert len(long) <= MAX_CONDITION_CHARS
    policy = parse_policy(_stages(MAX_STAGES, when=long.replace("{", "{{")))
    assert len(policy.rules.names) == MAX_STAGES


def test_a_condition_past_the_evaluation_budget_names_stage_and_customer():
    costly = "tags.all(a, tags.all(b, tags.all(c, a + b + c != 'x')))"
    policy = parse_policy(_stages(3).replace("when: days_past_due >= 2", f'when: "{costly}"'))
    cheap, heavy = row(1, days=40), row(7, days=40, tags=tuple(f"t{i}" for i in range(300)))
    assert decide_many(policy, [cheap], {}, AS_OF)  # few tags: fine
    with pytest.raises(RuleError) as caught:
        decide_many(policy, [cheap, heavy], {}, AS_OF)
    message = str(caught.value)
    assert isinstance(caught.value, RiskdeskError)
    assert message.startswith("stage 's2' for customer_id 7: ")
    assert "budget exceeded" in message and "simplify it" in message
    assert "\n" not in message
