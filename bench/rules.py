"""Benchmark `rules`: six collections stage conditions over 100,000 customers' facts.

Builds 100,000 synthetic `CustomerFacts` (Money amounts, random but seeded), compiles six
stage conditions with `riskdesk.rules`, and times:

- `evaluate_many` over the CustomerFacts objects (the collections hot path), best of 3;
- `evaluate` one customer at a time (µs per customer, p50 / p99);
- the engines without riskdesk around them, on ready-made dicts of doubles:
  cel-expr-python with all six rules in one list expression vs one call per rule, and
  common-expression-language (`cel`, Rust) with one Context per customer.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import date
from decimal import Decimal

from cel_expr_python import cel as cpp_cel

from riskdesk.book.facts import CustomerFacts
from riskdesk.money import Money
from riskdesk.rules import Fact, FactSchema, FactType, compile_rules

try:  # the Rust engine, for comparison only (not a riskdesk dependency)
    import cel as rust_cel
except ImportError:  # pragma: no cover
    rust_cel = None

N = 100_000
STAGES = {
    "terminate": "days_past_due > 90 && overdue_amount > 5000",
    "suspend": "days_past_due > 45 && overdue_amount > 1000 && unpaid_invoice_count >= 2",
    "final_notice": "days_past_due > 30 && overdue_amount > 250.50",
    "over_limit": "has_credit_limit && exposure > credit_limit",
    "reminder_2": "days_past_due > 14 && overdue_amount - disputed_amount > 0",
    "reminder_1": "days_past_due > 3 && overdue_amount > 0",
}
SCHEMA = FactSchema.of(
    Fact("days_past_due", FactType.INT),
    Fact("unpaid_invoice_count", FactType.INT),
    Fact("overdue_amount", FactType.MONEY),
    Fact("disputed_amount", FactType.MONEY),
    Fact("exposure", FactType.MONEY),
    Fact("credit_limit", FactType.MONEY, optional=True),
)


def _facts(n: int) -> list[CustomerFacts]:
    rnd = random.Random(7)
    out = []
    for i in range(n):

        def m(hi: int) -> Money:
            return Money(Decimal(rnd.randrange(0, hi * 100)).scaleb(-2), "EUR")  # noqa: B023

        overdue = m(20_000)
        zero = Money.zero("EUR")
        out.append(
            CustomerFacts(
                as_of=date(2026, 3, 31),
                customer_id=i,
                provider_customer_id=f"c{i}",
                name=f"Customer {i}",
                currency="EUR",
                credit_limit=m(30_000) if rnd.random() < 0.7 else None,
                open_balance=overdue,
                overdue_amount=overdue,
                days_past_due=rnd.randrange(0, 120),
                unpaid_invoice_count=rnd.randrange(0, 6),
                current=zero,
                days_1_30=zero,
                days_31_60=zero,
                days_61_90=zero,
                days_over_90=zero,
                disputed_amount=m(500),
                unapplied_credit=zero,
                unbilled_usage=m(1_000),
                open_orders=zero,
                exposure=m(40_000),
            )
        )
    return out


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    facts = _facts(N)
    t = time.perf_counter()
    rules = compile_rules(STAGES, SCHEMA, kind="stage")
    compile_ms = (time.perf_counter() - t) * 1e3

    many_s = _best(lambda: rules.evaluate_many(facts))
    per = []
    for f in facts[:20_000]:
        t = time.perf_counter()
        rules.evaluate(f)
        per.append(time.perf_counter() - t)
    per.sort()

    # The engines alone, on dicts of plain values (no conversion from Money).
    dicts = [rules._data(f, i) for i, f in enumerate(facts)]
    sources = list(rules.compiled_sources.values())
    env = cpp_cel.NewEnv(
        variables={
            **{n: cpp_cel.Type.INT for n in ("days_past_due", "unpaid_invoice_count")},
            **{
                n: cpp_cel.Type.DOUBLE
                for n in ("overdue_amount", "disputed_amount", "exposure", "credit_limit")
            },
            "has_credit_limit": cpp_cel.Type.BOOL,
        }
    )
    one = env.compile("[" + ", ".join(f"({s})" for s in sources) + "]")
    each = [env.compile(s) for s in sources]
    cpp_one_s = _best(lambda: [one.eval(data=d).plain_value() for d in dicts])
    cpp_each_s = _best(lambda: [[e.eval(data=d).value() for e in each] for d in dicts])

    result = {
        "customers": N,
        "rules": len(STAGES),
        "compile_ms": round(compile_ms, 2),
        "riskdesk_evaluate_many_s": round(many_s, 3),
        "riskdesk_evaluate_many_us_per_customer": round(many_s / N * 1e6, 2),
        "riskdesk_evaluate_p50_us": round(per[len(per) // 2] * 1e6, 2),
        "riskdesk_evaluate_p99_us": round(per[int(len(per) * 0.99)] * 1e6, 2),
        "riskdesk_evaluate_mean_us": round(statistics.fmean(per) * 1e6, 2),
        "cel_expr_python_one_list_s": round(cpp_one_s, 3),
        "cel_expr_python_call_per_rule_s": round(cpp_each_s, 3),
    }
    if rust_cel is None:
        print(json.dumps(result, indent=1))
        return
    r_each = [rust_cel.compile(s) for s in STAGES.values()]
    r_one = rust_cel.compile("[" + ", ".join(f"({s})" for s in STAGES.values()) + "]")

    def rust_each() -> None:
        for d in dicts:
            c = rust_cel.Context(d)
            [p.execute(c) for p in r_each]

    def rust_one() -> None:
        for d in dicts:
            r_one.execute(rust_cel.Context(d))

    def rust_dict() -> None:
        for d in dicts[:10_000]:
            [p.execute(d) for p in r_each]

    rust_each_s = _best(rust_each)
    rust_one_s = _best(rust_one)
    rust_dict_s = _best(rust_dict) * N / 10_000

    result |= {
        "common_expression_language_context_call_per_rule_s": round(rust_each_s, 3),
        "common_expression_language_context_one_list_s": round(rust_one_s, 3),
        "common_expression_language_dict_per_call_s": round(rust_dict_s, 3),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
