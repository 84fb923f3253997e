# ruff: noqa: F401, F811 - fixtures imported from outbox_fixtures are used as parameters
"""Review cases and webhooks carried out by the executor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from mail_helpers import SmtpServer, free_port
from outbox_fixtures import (
    REMINDER,
    SUSPEND,
    T0,
    Clock,
    _action,
    _audits,
    _enqueue,
    _executor,
    _provider_status,
    _reasons,
    book,
    provider,
    sandbox,
    smtp,
)
from riskdesk.actions import outbox
from riskdesk.actions.outbox import ActionStateError
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, OutboxAction, Subscription, SubscriptionSuspension
from riskdesk.notify.mail import SmtpMailer
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter


def _cases(engine, **where):
    from riskdesk.cases import list_cases

    with session_scope(engine) as session:
        found = list_cases(session, status=where.pop("status", None), **where)
        session.expunge_all()
        return found


def test_open_review_case_opens_one_case_per_customer_until_closed(engine, provider, book):
    from riskdesk.cases import close_case

    review = {"reason": "condition", "stage": "write_off_review", "facts": {"days_past_due": 93}}
    first = _enqueue(engine, book, "open_review_case", "k-rc-1", review, subscription_id=None)
    _executor(engine, provider).run_once()
    (case,) = _cases(engine)
    assert (case.customer_id, case.kind, case.status) == (
        book["customer"],
        "collections_review",
        "open",
    )
    assert case.data["facts"] == {"days_past_due": 93} and case.source_key == "k-rc-1"
    assert _action(engine, first).result == {"case_id": case.id, "opened": True}

    # Another request while it is open adds to the same case.
    second = _enqueue(engine, book, "open_review_case", "k-rc-2", review, subscription_id=None)
    _executor(engine, provider).run_once()
    (same,) = _cases(engine)
    assert same.id == case.id and same.data["requests"] == 2
    assert _action(engine, second).result == {"case_id": case.id, "opened": False}

    with session_scope(engine) as session:
        close_case(session, case.id, by="j.doe", resolution="payment plan agreed")
    third = _enqueue(engine, book, "open_review_case", "k-rc-3", review, subscription_id=None)
    _executor(engine, provider).run_once()
    assert [c.status for c in _cases(engine)] == ["closed", "open"]
    assert _action(engine, third).result["opened"] is True
    assert [e.action for e in _audits(engine, "case.opened")] == ["case.opened"] * 2
    assert _audits(engine, "case.closed")[0].data["resolution"] == "payment plan agreed"


def test_closing_a_case_needs_an_open_case_and_a_resolution(engine, book):
    from riskdesk.cases import CaseStateError, close_case, open_case
    from riskdesk.errors import NotFoundError, RiskdeskError

    with session_scope(engine) as session:
        case, opened = open_case(
            session, customer_id=book["customer"], kind="collections_review", title="t", by="me"
        )
        case_id = case.id
    assert opened
    with session_scope(engine) as session, pytest.raises(RiskdeskError, match="resolved"):
        close_case(session, case_id, by="me", resolution="  ")
    with session_scope(engine) as session:
        close_case(session, case_id, by="me", resolution="written off")
    with session_scope(engine) as session, pytest.raises(CaseStateError, match="closed, not open"):
        close_case(session, case_id, by="me", resolution="again")
    with session_scope(engine) as session, pytest.raises(NotFoundError, match="case 999"):
        close_case(session, 999, by="me", resolution="x")


def test_webhook_posts_json_with_the_idempotency_key(engine, provider, book):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Idempotency-Key"], request.read()))
        return httpx.Response(204)

    client = httpx.Client(transport=httpx.MockTransport(handler))

    def webhook(url, payload, key, timeout=10.0):
        from riskdesk.notify.webhook import post_webhook

        return post_webhook(url, payload, key, timeout, client=client)

    action_id = _enqueue(engine, book, "webhook", "k-w", {"url": "https://hooks.example/x"})
    _executor(engine, provider, webhook=webhook).run_once()
    assert _action(engine, action_id).result == {"status": 204}
    assert seen[0][0] == "k-w" and b'"kind":"webhook"' in seen[0][1].replace(b" ", b"")


# --------------------------------------------------------------------------- e-mail


def test_two_executors_opening_the_same_review_at_once_share_one_case(engine, book):
    import threading
    import time

    from riskdesk.cases import open_case

    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite: writers take turns, the second always finds the first case")
    first_holds = threading.Event()
    release = threading.Event()
    results = {}

    def first():
        with session_scope(engine) as session:
            case, opened = open_case(
                session, customer_id=book["customer"], kind="collections_review",
                title="review", by="executor-a", source_key="k-a",
            )  # fmt: skip
            results["first"] = (case.id, opened)
            first_holds.set()
            release.wait(10)

    def second():
        first_holds.wait(10)
        with session_scope(engine) as session:
            case, opened = open_case(
                session, customer_id=book["customer"], kind="collections_review",
                title="review", by="executor-b", source_key="k-b",
            )  # fmt: skip
            results["second"] = (case.id, opened)

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    first_holds.wait(10)
    time.sleep(0.5)  # the second waits on the first's uncommitted case
    release.set()
    a.join(20)
    b.join(20)
    assert results["first"][1] is True
    assert results["second"] == (results["first"][0], False)  # joined, no error
