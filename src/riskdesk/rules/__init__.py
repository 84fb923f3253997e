"""The one expression language for policies and rules: CEL, type-checked and compiled once.

    schema = FactSchema.of(Fact("overdue_amount", FactType.MONEY, "overdue, in currency units"),
                           Fact("days_past_due", FactType.INT, "days since the oldest due date"))
    stages = compile_rules({"remind": "days_past_due > 7",
                            "suspend": "days_past_due > 30 && overdue_amount > 1000"}, schema)
    stages.first_match(facts)          # "suspend" | "remind" | None
    stages.evaluate_many(rows)         # [(True, False), ...] in rule order

See `riskdesk.rules.cel` for how money, optional facts and literals reach CEL.
"""

from riskdesk.rules.cel import (
    Fact,
    FactSchema,
    FactType,
    RuleError,
    RuleProblem,
    RuleSet,
    compile_rules,
)

__all__ = [
    "Fact",
    "FactSchema",
    "FactType",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "compile_rules",
]
