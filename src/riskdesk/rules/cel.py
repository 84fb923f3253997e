"""Rules in CEL (Common Expression Language), type-checked and compiled once.

The engine is `cel-expr-python` (Google's C++ CEL behind a thin binding): every fact is
declared with a type, so a misspelt fact, a rule that is not true/false, or comparing a
list with a number is refused when the policy is loaded, never in the middle of a run.
See docs/rules.md for the comparison with the other engines and the measured speeds.

Modules: `schema` (facts and their types), `compiler` (type-checking and compiling, once),
`evaluate` (`RuleSet`: converting facts, evaluating every rule in one engine call),
`problems` (`RuleProblem`, `RuleError`).

How facts reach CEL (`FactType`):

- MONEY: a CEL double in units of the entity's currency (`overdue_amount > 1000` means
  1000 euros for a EUR customer). Values may be `Money`, `Decimal` or `int`; floats are
  refused. A whole-number literal next to a money operand (`overdue_amount > 1000`,
  `1000 < overdue_amount`, `overdue_amount - 100 > 0`) is read as `1000.0`: CEL has no
  implicit int-to-double conversion, so the type checker's complaint points at the literal
  and the literal is rewritten before compiling. Comparing one money fact with a literal is
  exact (an amount with at most 15 significant digits and a literal both become the nearest
  double, and rounding to nearest keeps their order). Sums and differences of money facts
  are binary floating point: at a boundary to the last cent they may fall either way, so a
  policy that needs such a sum exactly should publish it as a fact of its own.
- INT, NUMBER (double), BOOL, STRING, STRING_LIST, TIMESTAMP (a `date` is midnight UTC),
  DURATION (a `timedelta`; an int is a number of days).
- Optional facts: a fact declared `optional=True` may be None (or absent). It is then passed
  as its `when_missing` value and a companion boolean fact `has_<name>` says whether it was
  there: `has_credit_limit && exposure > credit_limit`.
"""

from __future__ import annotations

from riskdesk.rules.compiler import compile_rules
from riskdesk.rules.evaluate import RuleSet
from riskdesk.rules.problems import RuleError, RuleProblem
from riskdesk.rules.schema import Fact, FactSchema, FactType

__all__ = [
    "Fact",
    "FactSchema",
    "FactType",
    "RuleError",
    "RuleProblem",
    "RuleSet",
    "compile_rules",
]
