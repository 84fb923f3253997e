"""riskdesk.rules: CEL rules compiled once over declared facts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskdesk.errors import EXIT_CODES
from riskdesk.money import Money
from riskdesk.rules import Fact, FactSchema, FactType, RuleError, compile_rules

SCHEMA = FactSchema.of(
    Fact("days_past_due", FactType.INT, "days since the oldest unpaid due date"),
    Fact("customer_age_days", FactType.INT, "days since sign-up"),
    Fact("unpaid_invoice_count", FactType.INT, "unpaid invoices"),
    Fact("overdue_amount", FactType.MONEY, "overdue, in currency units"),
    Fact("disputed_amount", FactType.MONEY, "disputed, in currency units"),
    Fact("exposure", FactType.MONEY, "open balance + unbilled usage + open orders"),
    Fact("credit_limit", FactType.MONEY, "credit limit", optional=True),
    Fact("has_active_promise", FactType.BOOL, "a promise to pay is open"),
    Fact("tags", FactType.STRING_LIST, "customer tags"),
    Fact("country", FactType.STRING, "billing country"),
    Fact("signed_up", FactType.TIMESTAMP, "sign-up day"),
    Fact("since_last_payment", FactType.DURATION, "time since the last payment"),
)


def facts(**overrides):
    base = {
        "customer_id": 42,
        "days_past_due": 0,
        "customer_age_days": 400,
        "unpaid_invoice_count": 0,
        "overdue_amount": Money("0", "EUR"),
        "disputed_amount": Money("0", "EUR"),
        "exposure": Money("0", "EUR"),
        "credit_limit": None,
        "has_active_promise": False,
        "tags": [],
        "country": "DE",
        "signed_up": date(2024, 1, 1),
        "since_last_payment": timedelta(days=3),
    }
    base.update(overrides)
    return base


def one(source: str, **values) -> bool:
    return compile_rules({"r": source}, SCHEMA).evaluate(facts(**values))["r"]


# ---------------------------------------------------------------- compile-time errors


def test_typo_names_the_rule_and_suggests():
    with pytest.raises(RuleError) as info:
        compile_rules(
            {"remind": "days_past_due > 3", "suspend": "overdue_amout > 1000"},
            SCHEMA,
            kind="stage",
        )
    err = info.value
    assert err.rule == "suspend"
    assert err.source == "overdue_amout > 1000"
    assert "undeclared reference to 'overdue_amout'" in err.message
    assert "did you mean 'overdue_amount'?" in err.message
    assert str(err).startswith("stage 'suspend': undeclared reference to 'overdue_amout'")


def test_every_bad_rule_is_listed():
    with pytest.raises(RuleError) as info:
        compile_rules(
            {"a": "dayz > 1", "b": "days_past_due > 1", "c": "overdue_amount + 1"}, SCHEMA
        )
    assert [p.rule for p in info.value.problems] == ["a", "c"]


def test_non_boolean_rule_refused():
    with pytest.raises(RuleError, match="must be true or false") as info:
        compile_rules({"total": "overdue_amount + 1"}, SCHEMA)
    assert info.value.rule == "total"


def test_syntax_error_has_rule_and_position():
    with pytest.raises(RuleError, match="Syntax error") as info:
        compile_rules({"suspend": "days_past_due >"}, SCHEMA, kind="stage")
    problem = info.value.problems[0]
    assert problem.rule == "suspend"
    assert (problem.line, problem.column) == (1, 16)
    assert "stage 'suspend'" in str(info.value)
    # Naming the rule a "stage" must not change the error's kind: the CLI maps it to an exit code.
    assert info.value.kind == "invalid"
    assert EXIT_CODES[info.value.kind] == 2


def test_type_errors_at_compile_time():
    for bad in ["tags > 3", "country == 1", "has_active_promise > 0", "empty_rule == 1"]:
        with pytest.raises(RuleError):
            compile_rules({"x": bad}, SCHEMA)
    with pytest.raises(RuleError, match="is empty"):
        compile_rules({"x": "  "}, SCHEMA)


def test_short_circuit_does_not_hide_a_typo():
    # the Rust engine would return True here and never see the typo
    with pytest.raises(RuleError, match="did you mean 'days_past_due'"):
        compile_rules({"x": "true || days_pas_due > 1"}, SCHEMA)


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("amount", "rule", "expected"),
    [
        ("1000.00", "overdue_amount > 1000", False),
        ("1000.01", "overdue_amount > 1000", True),
        ("1000.00", "overdue_amount >= 1000", True),
        ("1000.00", "overdue_amount == 1000", True),
        ("1000.00", "1000 < overdue_amount", False),
        ("1000.01", "1000 < overdue_amount", True),
        ("1000.50", "overdue_amount > 1000.50", False),
        ("1000.51", "overdue_amount > 1000.50", True),
        ("1000.50", "overdue_amount > 1000.5", False),
        ("999.99", "overdue_amount > 999.98 && overdue_amount < 1000", True),
        ("0.00", "overdue_amount > -1", True),
        ("1100.00", "overdue_amount - 100 > 1000", False),
        ("1100.01", "overdue_amount - 100 > 1000", True),
        ("500.00", "overdue_amount * 2 >= 1000", True),
    ],
)
def test_money_boundaries(amount, rule, expected):
    assert one(rule, overdue_amount=Money(amount, "EUR")) is expected
    assert one(rule, overdue_amount=Decimal(amount)) is expected


def test_money_in_other_currencies_is_in_units():
    assert one("overdue_amount > 1000", overdue_amount=Money("1001", "JPY")) is True
    assert one("overdue_amount > 1.5", overdue_amount=Money("1.501", "KWD")) is True
    assert one("overdue_amount > 1.5", overdue_amount=Money("1.500", "KWD")) is False


def test_money_literal_rewrite_keeps_strings_and_ints():
    rules = compile_rules(
        {"x": "overdue_amount > 1000 && days_past_due > 30 && country != '1000'"}, SCHEMA
    )
    assert rules.compiled_sources["x"] == (
        "overdue_amount > 1000.0 && days_past_due > 30 && country != '1000'"
    )


def test_money_float_refused():
    with pytest.raises(RuleError, match="overdue_amount"):
        one("overdue_amount > 1", overdue_amount=1000.5)


def test_ratio_of_money():
    assert (
        one(
            "disputed_amount / overdue_amount > 0.5",
            overdue_amount=Money("10", "EUR"),
            disputed_amount=Money("6", "EUR"),
        )
        is True
    )


# ---------------------------------------------------------------- int / double mixing


def test_int_facts_with_int_literals():
    assert one("days_past_due > 30", days_past_due=31) is True
    assert one("days_past_due > 30", days_past_due=30) is False


def test_int_fact_with_decimal_literal_refused_with_hint():
    with pytest.raises(RuleError, match="whole numbers"):
        compile_rules({"x": "days_past_due > 30.5"}, SCHEMA)
    with pytest.raises(RuleError, match="double"):
        compile_rules({"x": "overdue_amount > days_past_due"}, SCHEMA)
    assert one("double(days_past_due) > 30.5", days_past_due=31) is True


def test_int_fact_refuses_bool_and_float_values():
    with pytest.raises(RuleError, match="days_past_due"):
        one("days_past_due > 1", days_past_due=True)
    with pytest.raises(RuleError, match="days_past_due"):
        one("days_past_due > 1", days_past_due=2.0)


# ---------------------------------------------------------------- other types


def test_tags_strings_booleans_dates_durations():
    assert one("'enforcement_off' in tags", tags=["vip", "enforcement_off"]) is True
    assert one("'enforcement_off' in tags", tags=("vip",)) is False
    assert one("!('vip' in tags) && size(tags) == 0") is True
    assert one("has_active_promise", has_active_promise=True) is True
    assert one("country.startsWith('D') && country in ['DE', 'AT']") is True
    assert one("customer_age_days < 30", customer_age_days=10) is True
    assert one("signed_up < timestamp('2024-06-01T00:00:00Z')") is True
    assert one("since_last_payment > duration('48h')") is True
    assert one("since_last_payment > duration('48h')", since_last_payment=1) is False


# ---------------------------------------------------------------- None


def test_optional_fact_and_has():
    rule = "has_credit_limit && exposure > credit_limit"
    assert one(rule, exposure=Money("10", "EUR"), credit_limit=None) is False
    assert one(rule, exposure=Money("10", "EUR"), credit_limit=Money("5", "EUR")) is True
    assert one(rule, exposure=Money("5", "EUR"), credit_limit=Money("5", "EUR")) is False
    absent = facts(exposure=Money("10", "EUR"))
    del absent["credit_limit"]
    assert compile_rules({"r": rule}, SCHEMA).evaluate(absent) == {"r": False}


def test_optional_when_missing_value():
    schema = FactSchema.of(
        Fact("exposure", FactType.MONEY),
        Fact("credit_limit", FactType.MONEY, optional=True, when_missing=float("inf")),
    )
    rules = compile_rules({"over": "exposure > credit_limit"}, schema)
    assert rules.evaluate({"exposure": Money("1e9", "EUR"), "credit_limit": None}) == {
        "over": False
    }


def test_required_fact_none_is_an_error_naming_the_entity():
    rules = compile_rules({"r": "days_past_due > 1"}, SCHEMA)
    with pytest.raises(RuleError, match="customer_id 42.*'days_past_due' is None"):
        rules.evaluate(facts(days_past_due=None))
    with pytest.raises(RuleError, match="row 1"):
        rules.evaluate_many([facts(), {"days_past_due": None}])


def test_null_comparison_refused_at_compile_time():
    with pytest.raises(RuleError):
        compile_rules({"x": "credit_limit == null"}, SCHEMA)


# ---------------------------------------------------------------- run-time errors


def test_runtime_error_names_rule_and_entity():
    rules = compile_rules(
        {"ok": "days_past_due > 1", "ratio": "customer_age_days / unpaid_invoice_count > 2"},
        SCHEMA,
        kind="stage",
    )
    with pytest.raises(RuleError) as info:
        rules.evaluate_many([facts(unpaid_invoice_count=1), facts(unpaid_invoice_count=0)])
    err = info.value
    assert err.rule == "ratio"
    assert err.entity == "customer_id 42"
    assert "divide by zero" in err.message
    assert str(err).startswith("stage 'ratio' for customer_id 42: divide by zero")


def test_short_circuit_avoids_runtime_error():
    rule = "unpaid_invoice_count > 0 && customer_age_days / unpaid_invoice_count > 2"
    assert one(rule) is False


# ---------------------------------------------------------------- evaluation API


STAGES = {
    "suspend": "days_past_due > 45 && overdue_amount > 1000 && !has_active_promise",
    "final_notice": "days_past_due > 30 && overdue_amount > 250.50",
    "over_limit": "has_credit_limit && exposure > credit_limit",
    "reminder": "days_past_due > 3 && overdue_amount - disputed_amount > 0",
    "skip": "'enforcement_off' in tags",
    "young": "customer_age_days < 30",
}


def test_first_match_and_names():
    rules = compile_rules(STAGES, SCHEMA)
    assert rules.names == tuple(STAGES)
    f = facts(days_past_due=40, overdue_amount=Money("300", "EUR"))
    assert rules.first_match(f) == "final_notice"
    assert rules.first_match(facts()) is None
    assert rules.evaluate(f)["reminder"] is True


def test_objects_with_attributes_are_facts():
    class Row:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    rules = compile_rules({"late": "days_past_due > 3"}, SCHEMA)
    assert rules.evaluate(Row(days_past_due=4, customer_id=1)) == {"late": True}


money = st.decimals(min_value=0, max_value=100_000, places=2).map(lambda d: Money(d, "EUR"))
row = st.fixed_dictionaries(
    {
        "customer_id": st.integers(1, 10**6),
        "days_past_due": st.integers(0, 200),
        "customer_age_days": st.integers(0, 2000),
        "unpaid_invoice_count": st.integers(0, 10),
        "overdue_amount": money | st.sampled_from([Money("1000", "EUR"), Money("250.50", "EUR")]),
        "disputed_amount": money,
        "exposure": money,
        "credit_limit": st.none() | money,
        "has_active_promise": st.booleans(),
        "tags": st.lists(st.sampled_from(["vip", "enforcement_off", "new"]), max_size=3),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row, max_size=30))
def test_evaluate_many_equals_evaluate(rows):
    rules = compile_rules(STAGES, SCHEMA)
    many = rules.evaluate_many(rows)
    assert many == [tuple(rules.evaluate(r).values()) for r in rows]
    for r, values in zip(rows, many, strict=True):
        amount = r["overdue_amount"].amount
        expected_final = r["days_past_due"] > 30 and amount > Decimal("250.50")
        assert values[1] is expected_final
        limit = r["credit_limit"]
        assert values[2] is (limit is not None and r["exposure"].amount > limit.amount)


def test_schema_describe_and_validation():
    text = SCHEMA.describe()
    assert "| `has_credit_limit` | bool |" in text
    assert "overdue, in currency units" in text
    with pytest.raises(ValueError, match="declared twice"):
        FactSchema.of(Fact("a", FactType.INT), Fact("a", FactType.BOOL))
    with pytest.raises(ValueError, match="not a valid CEL identifier"):
        Fact("in", FactType.INT)
    with pytest.raises(ValueError, match="declared twice"):
        FactSchema.of(Fact("x", FactType.INT, optional=True), Fact("has_x", FactType.BOOL))
