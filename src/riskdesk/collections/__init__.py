"""Collections: the published policy, and the pure decisions that enforce it.

    policy = load_shipped_policy()            # PolicyError names file:line
    rows = [policy_facts(f, tags=..., created_on=..., promise_until=..., as_of=day) for f in facts]
    decisions = decide_many(policy, rows, current_stages, day)  # most severe matching stage
    plan = plan_transitions(policy, decisions)                 # keyed actions, only changes
    text = render_policy_document(policy, "md")                # what customers read

Nothing here writes to the database, calls the provider or sends mail: the caller enqueues
`plan.actions` in the outbox and records `plan.transitions` in `collection_states`.
"""

from riskdesk.collections.document import render_policy_document
from riskdesk.collections.evaluate import Decision, decide, decide_many
from riskdesk.collections.facts import FACTS, fact_schema, policy_facts
from riskdesk.collections.plan import Plan, PlannedAction, plan_transitions
from riskdesk.collections.policy import Policy, PolicyError, load_policy, parse_policy

__all__ = [
    "FACTS",
    "Decision",
    "Plan",
    "PlannedAction",
    "Policy",
    "PolicyError",
    "decide",
    "decide_many",
    "fact_schema",
    "load_policy",
    "parse_policy",
    "plan_transitions",
    "policy_facts",
    "render_policy_document",
]
