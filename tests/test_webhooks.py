"""Webhook actions carried out by the executor against a real HTTP receiver on a loopback port.

The receiver (stdlib ``http.server`` in a thread) answers from a script, one reply per request,
and keeps every request it got, so each test checks what actually went over the wire: one POST
with the JSON body and the ``Idempotency-Key``; the same key again on a retry; nothing sent to a
redirect's target.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from mail_helpers import free_port
from outbox_fixtures import T0, Clock
from riskdesk.actions import outbox
from riskdesk.actions.executor import Executor
from riskdesk.app.bootstrap import action_registry
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, Customer, OutboxAction
from riskdesk.notify.mail import SmtpMailer
from riskdesk.notify.webhook import post_webhook
from riskdesk.providers.auth import StaticToken
from riskdesk.providers.partner_center import PartnerCenter

FACTS = {"days_past_due": 45, "overdue": "1,550.25 EUR"}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on 127.0.0.1 answering each request with the next scripted reply
    (the last one repeats once the script runs out)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply(204)]
        self.seen: list[Seen] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )  # fmt: skip
                )
                replies = receiver.replies
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout test)
                    pass

            do_POST = do_GET = do_PUT = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def customer(engine) -> int:
    with session_scope(engine) as session:
        row = Customer(
            provider_customer_id="tenant-webhook",
            name="Fabrikam Ltd",
            currency="EUR",
            billing_email="billing@fabrikam.example",
            payment_terms_days=30,
            tags=[],
            created_on=date(2025, 1, 1),
        )
        session.add(row)
        session.flush()
        return row.id


def _enqueue(engine, customer, url, key="k-hook", **extra) -> int:
    payload = {"url": url, "stage": "suspension", "policy_version": "ab" * 32,
               "facts": FACTS} | extra  # fmt: skip
    with session_scope(engine) as session:
        action = outbox.enqueue(
            session, key=key, kind="webhook", customer_id=customer, payload=payload, now=T0
        )
        return action.id


def _executor(engine, clock, **kw) -> Executor:
    # The webhook effect calls neither the provider nor the mail server; both point nowhere.
    provider = PartnerCenter(StaticToken("unused"), base_url=f"http://127.0.0.1:{free_port()}")
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=2)
    return Executor(engine, provider, mailer, registry=action_registry(), now=clock, **kw)


def _action(engine, action_id) -> OutboxAction:
    with session_scope(engine) as session:
        return session.get(OutboxAction, action_id)


def _failed_events(engine) -> list[dict]:
    with session_scope(engine) as session:
        return [
            e.data
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "action.failed"))
        ]


# --------------------------------------------------------------------------- delivered


def test_a_2xx_answer_is_done_after_exactly_one_post(engine, customer):
    with Receiver(Reply(200, body=b"ok")) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        report = _executor(engine, Clock()).run_once()
    assert (report.claimed, report.done) == (1, 1)
    action = _action(engine, action_id)
    assert (action.status, action.attempts, action.result) == ("done", 1, {"status": 200})
    (request,) = receiver.seen
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["idempotency-key"] == "k-hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("riskdesk")
    assert request.json() == {
        "action_id": action_id,
        "kind": "webhook",
        "customer_id": customer,
        "subscription_id": None,
        "payload": {"stage": "suspension", "policy_version": "ab" * 32, "facts": FACTS},
        "facts": FACTS,
    }


def test_a_payload_body_is_posted_as_it_is(engine, customer):
    with Receiver(Reply(202)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url(), body={"text": "stage: suspension"})
        _executor(engine, Clock()).run_once()
    assert _action(engine, action_id).result == {"status": 202}
    (request,) = receiver.seen
    assert request.json() == {"text": "stage: suspension"}


# --------------------------------------------------------------------------- transient


def test_a_5xx_is_retried_with_backoff_and_the_same_key_until_the_receiver_recovers(
    engine, customer
):
    clock = Clock()
    executor = _executor(engine, clock)
    with Receiver(Reply(503, body=b"down for maintenance"), Reply(200)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert executor.run_once().retried == 1
        action = _action(engine, action_id)
        assert (action.status, action.attempts) == ("pending", 1)
        assert action.next_attempt_at == T0 + timedelta(seconds=30)  # the executor's backoff
        assert "HTTP 503" in action.last_error and "down for maintenance" in action.last_error
        assert executor.run_once().claimed == 0  # not due yet: nothing sent
        assert len(receiver.seen) == 1
        clock.advance(seconds=30)
        assert executor.run_once().done == 1
    action = _action(engine, action_id)
    assert (action.status, action.attempts, action.last_error) == ("done", 2, None)
    first, second = receiver.seen
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "k-hook"
    assert first.body == second.body


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_408_and_other_5xx_are_transient(engine, customer, status):
    with Receiver(Reply(status)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert _executor(engine, Clock()).run_once().retried == 1
    action = _action(engine, action_id)
    assert action.status == "pending" and f"HTTP {status}" in action.last_error


def test_a_transient_failure_gives_up_after_max_attempts(engine, customer):
    clock = Clock()
    executor = _executor(engine, clock, max_attempts=2)
    with Receiver(Reply(500)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        executor.run_once()
        clock.advance(minutes=1)
        executor.run_once()
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("failed", 2)
    assert len(receiver.seen) == 2
    (event,) = _failed_events(engine)
    assert event["permanent"] is False and event["gave_up_after_attempts"] == 2


def test_429_retry_after_in_seconds_is_honoured(engine, customer):
    clock = Clock()
    executor = _executor(engine, clock)
    with Receiver(Reply(429, {"Retry-After": "120"}), Reply(200)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert executor.run_once().retried == 1
        action = _action(engine, action_id)
        assert action.status == "pending" and "HTTP 429" in action.last_error
        assert action.next_attempt_at == T0 + timedelta(seconds=120)  # not the 30 s backoff
        clock.advance(seconds=119)
        assert executor.run_once().claimed == 0
        clock.advance(seconds=1)
        assert executor.run_once().done == 1
    assert [r.headers["idempotency-key"] for r in receiver.seen] == ["k-hook", "k-hook"]


def test_503_retry_after_as_an_http_date_is_honoured(engine, customer):
    import datetime as dt

    # An HTTP-date is absolute: measured against the real clock at the time of the answer.
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + timedelta(minutes=10)
    with Receiver(Reply(503, {"Retry-After": format_datetime(when, usegmt=True)})) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert _executor(engine, Clock()).run_once().retried == 1
    delay = _action(engine, action_id).next_attempt_at - T0
    assert timedelta(minutes=9) < delay <= timedelta(minutes=10)


def test_a_retry_after_shorter_than_the_backoff_does_not_shorten_it(engine, customer):
    with Receiver(Reply(429, {"Retry-After": "1"})) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        _executor(engine, Clock()).run_once()
    assert _action(engine, action_id).next_attempt_at == T0 + timedelta(seconds=30)


@pytest.mark.parametrize("value", ["1e20", "31536000", "inf"])
def test_a_huge_retry_after_waits_a_day_at_most(engine, customer, value):
    clock = Clock()
    executor = _executor(engine, clock)
    with Receiver(Reply(429, {"Retry-After": value}), Reply(200)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert executor.run_once().retried == 1
        assert _action(engine, action_id).next_attempt_at == T0 + timedelta(days=1)
        clock.advance(days=1)
        assert executor.run_once().done == 1
    assert len(receiver.seen) == 2


def test_a_retry_after_that_is_no_number_or_date_is_ignored(engine, customer):
    with Receiver(Reply(503, {"Retry-After": "soon"})) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert _executor(engine, Clock()).run_once().retried == 1
    assert _action(engine, action_id).next_attempt_at == T0 + timedelta(seconds=30)


def test_connection_refused_is_retried(engine, customer):
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    action_id = _enqueue(engine, customer, url)
    assert _executor(engine, Clock()).run_once().retried == 1
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("pending", 1)
    assert action.next_attempt_at == T0 + timedelta(seconds=30)
    assert "ConnectError" in action.last_error


def test_a_receiver_slower_than_the_timeout_is_retried(engine, customer):
    with Receiver(Reply(200, delay=1.5)) as receiver:
        action_id = _enqueue(engine, customer, receiver.url(), timeout=0.3)
        started = time.monotonic()
        assert _executor(engine, Clock()).run_once().retried == 1
        elapsed = time.monotonic() - started
    assert elapsed < 1.4  # gave up at the payload's timeout, did not wait for the answer
    action = _action(engine, action_id)
    assert action.status == "pending" and "Timeout" in action.last_error
    assert len(receiver.seen) == 1


# --------------------------------------------------------------------------- permanent


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_a_4xx_fails_at_once_naming_the_status(engine, customer, status):
    with Receiver(Reply(status, body=b"no such hook")) as receiver:
        action_id = _enqueue(engine, customer, receiver.url())
        assert _executor(engine, Clock()).run_once().failed == 1
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("failed", 1)
    assert f"HTTP {status}" in action.last_error and "no such hook" in action.last_error
    assert len(receiver.seen) == 1
    (event,) = _failed_events(engine)
    assert event["permanent"] is True


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_fails_naming_where_it_points(engine, customer, status):
    with Receiver() as elsewhere:
        target = elsewhere.url("/moved")
        with Receiver(Reply(status, {"Location": target})) as receiver:
            action_id = _enqueue(engine, customer, receiver.url())
            assert _executor(engine, Clock()).run_once().failed == 1
    assert len(receiver.seen) == 1
    assert elsewhere.seen == []  # neither the facts nor the key went to the redirect's target
    action = _action(engine, action_id)
    assert (action.status, action.attempts) == ("failed", 1)
    assert f"HTTP {status}" in action.last_error
    assert f"redirects to {target}" in action.last_error


def test_an_error_names_the_host_but_not_the_secret_in_the_url(engine, customer):
    with Receiver(Reply(404)) as receiver:
        url = receiver.url("/services/T000/B000/s3cr3t-token?sig=abc")
        action_id = _enqueue(engine, customer, url)
        _executor(engine, Clock()).run_once()
    error = _action(engine, action_id).last_error
    assert f"127.0.0.1:{receiver.port}" in error
    assert "s3cr3t" not in error and "sig=abc" not in error
    (event,) = _failed_events(engine)
    assert "s3cr3t" not in event["error"]


def test_a_url_that_is_not_http_fails_at_once():
    from riskdesk.notify.webhook import PermanentWebhookError

    with pytest.raises(PermanentWebhookError, match="ftp"):
        post_webhook("ftp://hooks.example/x", {}, "k")
