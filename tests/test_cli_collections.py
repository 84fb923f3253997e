"""The collections commands as a user runs them (Typer app in-process), SQLite and PostgreSQL."""

from __future__ import annotations

import json
import mailbox
import re
import sys
from pathlib import Path

from typer.testing import CliRunner

from riskdesk.cli import app

STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"
runner = CliRunner()


_OVERRIDES = None  # set by _today_is for one test


def invoke(database_url, *args, env=None):
    return runner.invoke(
        app,
        ["--database-url", database_url, *args],
        env={"COLUMNS": "200", **(env or {})},
        obj=_OVERRIDES,
    )


def demo_book(database_url, tmp_path) -> Path:
    state = tmp_path / "sandbox.json"
    result = invoke(
        database_url,
        "demo",
        "--customers",
        "60",
        "--months",
        "4",
        "--as-of",
        "2026-06-15",
        "--truth",
        str(tmp_path / "truth.json"),
        "--sandbox-state",
        str(state),
        "--json",
    )
    assert result.exit_code == 0, result.output
    return state


def test_dry_run_then_run_then_rerun_on_the_demo_book(database_url, tmp_path, monkeypatch):
    state = demo_book(database_url, tmp_path)
    _today_is(monkeypatch, "2026-06-15")
    env = {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
    }
    common = ["collections", "run", "--policy", str(STANDARD), "--json"]
    dry = json.loads(invoke(database_url, *common, "--dry-run", env=env).output)
    assert dry["dry_run"] and dry["actions_planned"] > 0 and dry["transitions"]
    real = invoke(database_url, *common, env=env)
    assert real.exit_code == 0, real.output
    report = json.loads(real.output)
    assert report["transitions"] == dry["transitions"]  # the dry run showed exactly this
    assert report["executed"]["failed"] == 0 and report["executed"]["done"] > 0
    notices = [m for m in mailbox.Maildir(tmp_path / "mail", create=False)]
    planned_notices = sum(1 for t in report["transitions"] if t["to"])
    assert 0 < len(notices) <= planned_notices * 2
    again = json.loads(invoke(database_url, *common, env=env).output)
    assert again["transitions"] == [] and again["actions_planned"] == 0


def test_a_blast_radius_stop_is_lifted_for_one_run_by_a_named_person(
    database_url, tmp_path, monkeypatch
):
    state = demo_book(database_url, tmp_path)
    _today_is(monkeypatch, "2026-06-15")
    env = {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
    }
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        STANDARD.read_text().replace("max_suspensions_per_run: 50", "max_suspensions_per_run: 1")
    )
    common = ["collections", "run", "--policy", str(strict), "--json"]
    stopped = json.loads(invoke(database_url, *common, "--dry-run", env=env).output)
    wanted = int(re.search(r"--max-suspensions (\d+)", stopped["alert"]).group(1))
    assert wanted > 1 and "suspended" not in stopped["by_stage"]

    anonymous = invoke(database_url, *common, "--max-suspensions", str(wanted), env=env)
    assert anonymous.exit_code == 2 and "--by" in anonymous.output

    run = invoke(database_url, *common, "--max-suspensions", str(wanted), "--by", "j.doe", env=env)
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert report["alert"] is None
    assert (
        sum(t["to"] in ("suspended", "write_off_review") for t in report["transitions"]) == wanted
    )
    assert report["executed"]["failed"] == 0


def test_a_policy_with_a_typo_is_refused_before_anything_runs(database_url, tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text(STANDARD.read_text().replace("days_past_due >= 30", "days_pas_due >= 30"))
    assert invoke(database_url, "init").exit_code == 0
    result = invoke(database_url, "collections", "run", "--policy", str(bad))
    assert result.exit_code == 2
    assert "stage 'suspended'" in result.output and "days_pas_due" in result.output
    assert re.search(r"typo\.yaml:\d+: stages\[2\]\.when: ", result.output)  # file, line, field
    listed = json.loads(invoke(database_url, "outbox", "list", "--json").output)
    assert listed == []


def test_policy_doc_is_generated_from_the_enforced_file():
    result = runner.invoke(app, ["collections", "policy-doc", "--policy", str(STANDARD)])
    assert result.exit_code == 0
    assert "30 days overdue" in result.output and "days_past_due >= 30" in result.output
    html = runner.invoke(
        app, ["collections", "policy-doc", "--policy", str(STANDARD), "--format", "html"]
    )
    assert html.exit_code == 0 and "<h" in html.output


def test_preview_lists_who_would_be_suspended_if_nobody_paid(database_url, tmp_path):
    demo_book(database_url, tmp_path)
    result = invoke(
        database_url,
        "collections",
        "preview",
        "--days",
        "40",
        "--as-of",
        "2026-06-15",
        "--policy",
        str(STANDARD),
        "--json",
    )
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert events and all("2026-06-16" <= e["day"] <= "2026-07-25" for e in events)
    assert any(e["stage"] == "suspended" and e["suspends"] > 0 for e in events)
    assert not any(e["held_by_blast_radius"] for e in events)
    # a preview writes nothing
    assert json.loads(invoke(database_url, "outbox", "list", "--json").output) == []


def test_preview_shows_who_the_blast_radius_would_hold(database_url, tmp_path):
    demo_book(database_url, tmp_path)
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        STANDARD.read_text().replace("max_suspensions_per_run: 50", "max_suspensions_per_run: 1")
    )
    args = ["collections", "preview", "--days", "40", "--as-of", "2026-06-15", "--policy"]
    events = json.loads(invoke(database_url, *args, str(strict), "--json").output)
    held = [e for e in events if e["held_by_blast_radius"]]
    assert held and all(e["suspends"] > 0 for e in held)
    # Each customer listed once per stage it would be held from (suspended, then write-off).
    assert len({(e["customer_id"], e["stage"]) for e in held}) == len(held)
    # Held customers stay where they were: none of them is suspended later in the preview.
    suspended_later = {e["customer_id"] for e in events if not e["held_by_blast_radius"]
                       and e["stage"] == "suspended"}  # fmt: skip
    assert not suspended_later & {e["customer_id"] for e in held}
    table = invoke(database_url, *args, str(strict))
    assert table.exit_code == 0 and "held: blast radius" in table.output
    assert "would be held by the blast radius" in table.output


def test_recording_a_payment_reinstates_at_once(database_url, tmp_path, monkeypatch):
    from sqlalchemy import select

    from riskdesk.db.engine import make_engine, session_scope
    from riskdesk.db.models import CollectionState

    state = demo_book(database_url, tmp_path)
    _today_is(monkeypatch, "2026-06-16")
    env = {"RISKDESK_PROVIDER_SANDBOX_STATE": str(state), "RISKDESK_MAIL_DIR": str(tmp_path / "m")}
    run = ["collections", "run", "--policy", str(STANDARD), "--json"]
    assert invoke(database_url, *run, env=env).exit_code == 0
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        suspended = session.scalars(
            select(CollectionState.customer_id).where(CollectionState.stage == "suspended")
        ).first()
    engine.dispose()
    assert suspended is not None
    shown = json.loads(
        invoke(
            database_url, "customers", "show", str(suspended), "--as-of", "2026-06-15", "--json"
        ).output
    )
    owed = shown["facts"]["open_balance"]
    result = invoke(
        database_url,
        "payments",
        "record",
        str(suspended),
        owed["amount"],
        owed["currency"],
        "--reference",
        "BANK-1",
        "--received-on",
        "2026-06-16",
        "--policy",
        str(STANDARD),
        "--json",
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["transitions"] == [{"from": "suspended", "to": None, "reason": "no_condition"}]
    assert report["executed"]["done"] > 0 and report["executed"]["failed"] == 0
    subs = json.loads(invoke(database_url, "customers", "show", str(suspended), "--json").output)[
        "subscriptions"
    ]
    assert subs and all("non_payment" not in s["suspension_reasons"] for s in subs)


# --- payments record: judged as of today, checked before anything is written, exact amounts ---

TODAY = "2026-04-10"


def _fabrikam(engine) -> int:
    """A customer suspended by 10 April: INV-7001 (1,200.00, due 31 Jan), INV-7002 (350.25,
    due 3 Mar), nothing paid."""
    from datetime import date

    from book_builders import customer, invoice
    from riskdesk.db.engine import session_scope

    with session_scope(engine) as session:
        cust = customer(session, "Fabrikam Ltd", "EUR")
        cust.billing_email = "billing@fabrikam.example"
        invoice(session, cust, "INV-7001", "1200.00", date(2026, 1, 1), date(2026, 1, 31))
        invoice(session, cust, "INV-7002", "350.25", date(2026, 2, 1), date(2026, 3, 3))
        return cust.id


def _rows(engine) -> dict[str, int]:
    """How many rows the tables a payment or a collections run writes hold."""
    from sqlalchemy import func, select

    from riskdesk.db.engine import session_scope
    from riskdesk.db.models import AuditEvent, CollectionState, OutboxAction, Payment

    with session_scope(engine) as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m))
            for m in (Payment, OutboxAction, AuditEvent, CollectionState)
        }


def _stage(engine, customer_id):
    from riskdesk.db.engine import session_scope
    from riskdesk.db.models import CollectionState

    with session_scope(engine) as session:
        state = session.get(CollectionState, customer_id)
        return None if state is None else state.stage


def _record(database_url, customer_id, amount, currency, *options, env=None):
    args = ["payments", "record", str(customer_id), amount, currency, *options]
    return invoke(database_url, *args, "--policy", str(STANDARD), "--json", env=env)


def _today_is(monkeypatch, day: str) -> None:
    """Every command invoked after this runs on a fixed clock (the composition root's)."""
    from riskdesk.app.clock import FixedClock
    from riskdesk.cli._common import Overrides

    monkeypatch.setattr(sys.modules[__name__], "_OVERRIDES", Overrides(clock=FixedClock.on(day)))


def test_a_backdated_payment_is_judged_on_todays_facts(database_url, engine, monkeypatch):
    cust = _fabrikam(engine)
    _today_is(monkeypatch, TODAY)
    run = invoke(database_url, "collections", "run", "--no-execute", "--policy", str(STANDARD))
    assert run.exit_code == 0, run.output
    assert _stage(engine, cust) == "suspended"
    # INV-7001 was paid on 5 March; the bank file arrives on 10 April, INV-7002 is still open
    # (38 days overdue today): the customer stays suspended, nothing is reactivated.
    paid = _record(
        database_url,
        cust,
        "1200.00",
        "EUR",
        "--reference",
        "BANK-1",
        "--received-on",
        "2026-03-05",
        "--invoice",
        "INV-7001",
        "--no-execute",
    )
    assert paid.exit_code == 0, paid.output
    report = json.loads(paid.output)
    assert report["transitions"] == [] and report["actions_planned"] == 0
    assert _stage(engine, cust) == "suspended"
    # Paying the rest (yesterday) does reinstate, as of today.
    rest = _record(
        database_url,
        cust,
        "350.25",
        "EUR",
        "--reference",
        "BANK-2",
        "--received-on",
        "2026-04-09",
        "--no-execute",
    )
    assert rest.exit_code == 0, rest.output
    assert json.loads(rest.output)["transitions"] == [
        {"from": "suspended", "to": None, "reason": "no_condition"}
    ]


def test_a_payment_received_later_than_today_is_refused(database_url, engine, monkeypatch):
    cust = _fabrikam(engine)
    _today_is(monkeypatch, TODAY)
    before = _rows(engine)
    result = _record(
        database_url,
        cust,
        "1550.25",
        "EUR",
        "--reference",
        "BANK-1",
        "--received-on",
        "2026-04-11",
        "--no-execute",
    )
    assert result.exit_code == 2
    assert "received on 2026-04-11 is later than today (2026-04-10)" in result.output
    assert _rows(engine) == before


def test_payment_config_errors_are_found_before_anything_is_written(
    database_url, engine, tmp_path, monkeypatch
):
    from riskdesk.providers.sandbox import sample_state

    monkeypatch.chdir(tmp_path)  # no ./riskdesk.toml
    cust = _fabrikam(engine)
    _today_is(monkeypatch, TODAY)
    state = tmp_path / "sandbox.json"
    sample_state(seed=1, path=state).save()
    mail = {"RISKDESK_MAIL_DIR": str(tmp_path / "mail"), "RISKDESK_SMTP_HOST": None}
    provider = {"RISKDESK_PROVIDER_SANDBOX_STATE": str(state), "RISKDESK_PROVIDER_BASE_URL": None}
    no_mail = {**provider, "RISKDESK_MAIL_DIR": None, "RISKDESK_SMTP_HOST": None}
    no_provider = {
        **mail,
        "RISKDESK_PROVIDER_SANDBOX_STATE": None,
        "RISKDESK_PROVIDER_BASE_URL": None,
    }
    args = ("--reference", "BANK-1", "--received-on", "2026-03-06")
    before = _rows(engine)
    for env, message in ((no_mail, "mail is not configured"), (no_provider, "needs base_url")):
        result = _record(database_url, cust, "1550.25", "EUR", *args, env=env)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "already recorded" not in result.output
        assert _rows(engine) == before
    # Once configured, the same command (same reference) goes through.
    result = _record(database_url, cust, "1550.25", "EUR", *args, env={**mail, **provider})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["executed"]["failed"] == 0


def test_a_failure_after_the_payment_is_committed_says_it_is_recorded(
    database_url, engine, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    cust = _fabrikam(engine)
    _today_is(monkeypatch, TODAY)
    broken = tmp_path / "broken-sandbox.json"
    broken.write_text("not a state file")  # configured, but unreadable once the run opens it
    env = {
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
        "RISKDESK_SMTP_HOST": None,
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(broken),
        "RISKDESK_PROVIDER_BASE_URL": None,
    }
    result = _record(database_url, cust, "1550.25", "EUR", "--reference", "BANK-1", env=env)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "payment 'BANK-1' is recorded (payment #" in out, out
    assert "carrying out the planned actions failed" in out and "cannot read sandbox state" in out
    assert "the next run will carry them out" in out and "riskdesk collections run" in out
    assert _rows(engine)["payments"] == 1


def test_an_amount_finer_than_the_currency_allows_is_refused(database_url, engine, monkeypatch):
    from decimal import Decimal

    from sqlalchemy import select

    from riskdesk.db.engine import session_scope
    from riskdesk.db.models import Payment

    cust = _fabrikam(engine)
    _today_is(monkeypatch, TODAY)
    before = _rows(engine)
    for amount, currency, places in (
        ("1550.255", "EUR", "(2 decimals)"),
        ("100.5", "JPY", "(0 decimals)"),
        ("12.0001", "KWD", "(3 decimals)"),
    ):
        result = _record(database_url, cust, amount, currency, "--reference", "B-1", "--no-execute")
        assert result.exit_code == 2, result.output
        assert f"amount {amount} {currency} is finer than {currency} allows {places}" in (
            result.output
        )
        assert _rows(engine) == before
    # Trailing zeros are exact, not finer.
    ok = _record(database_url, cust, "1550.2500", "EUR", "--reference", "B-1", "--no-execute")
    assert ok.exit_code == 0, ok.output
    with session_scope(engine) as session:
        assert session.scalars(select(Payment.amount)).all() == [Decimal("1550.25")]
