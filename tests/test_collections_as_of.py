"""A run that acts takes today: `--as-of` another day only for a dry run, or by an audited
override naming who decided it and why (issue 13 item 3). SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from riskdesk.app.bootstrap import bootstrap
from riskdesk.app.clock import FixedClock
from riskdesk.app.collections import RunRequest, run_collections
from riskdesk.config import Settings
from riskdesk.db.engine import make_engine, session_scope
from riskdesk.db.models import AuditEvent, CollectionState, OutboxAction
from riskdesk.errors import InvalidInputError
from test_cli_collections import STANDARD, _today_is, demo_book, invoke

TODAY = "2026-06-15"


def _counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            return {
                m.__tablename__: session.scalar(select(func.count()).select_from(m))
                for m in (OutboxAction, CollectionState, AuditEvent)
            }
    finally:
        engine.dispose()


@pytest.fixture
def book(database_url, tmp_path, monkeypatch):
    state = demo_book(database_url, tmp_path)
    _today_is(monkeypatch, TODAY)
    return {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
    }


def test_a_run_that_acts_on_a_mistyped_or_past_day_is_refused_and_writes_nothing(
    database_url, book
):
    run = ["collections", "run", "--policy", str(STANDARD), "--json"]
    before = _counts(database_url)
    for day in ("2062-06-15", "2026-05-01"):  # a typo of the year; a past day
        for extra in ((), ("--no-execute",)):
            refused = invoke(database_url, *run, "--as-of", day, *extra, env=book)
            assert refused.exit_code == 2, refused.output
            out = " ".join(refused.output.split())
            assert f"as of {day} is not today ({TODAY})" in out, out
            assert "--dry-run" in out and "--override-as-of" in out
            assert _counts(database_url) == before
    # A dry run of another day is a preview: allowed, and it writes nothing.
    dry = invoke(database_url, *run, "--as-of", "2026-05-01", "--dry-run", env=book)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["as_of"] == "2026-05-01"
    assert _counts(database_url) == before
    # --as-of today is today.
    ok = invoke(database_url, *run, "--as-of", TODAY, "--no-execute", env=book)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["as_of_override"] is None


def test_the_rule_is_the_use_cases_not_the_clis(database_url, book):
    deps = bootstrap(Settings(database_url=database_url), clock=FixedClock.on(TODAY))
    try:
        with pytest.raises(InvalidInputError, match="is not today"):
            run_collections(
                deps, RunRequest(as_of=FixedClock.on("2062-06-15").now().date()), actor="ops"
            )
        with pytest.raises(InvalidInputError, match="a reason"):
            run_collections(
                deps,
                RunRequest(as_of=FixedClock.on("2026-06-01").now().date(), override_as_of=True),
                actor="j.doe",
            )
    finally:
        deps.close()


def test_an_override_needs_a_person_and_a_reason_and_is_audited(database_url, book):
    run = ["collections", "run", "--policy", str(STANDARD), "--json", "--no-execute"]
    day = ["--as-of", "2026-06-10", "--override-as-of"]
    before = _counts(database_url)
    nobody = invoke(database_url, *run, *day, "--reason", "replay", env=book)
    assert nobody.exit_code == 2 and "--by" in nobody.output, nobody.output
    no_reason = invoke(database_url, *run, *day, "--by", "j.doe", env=book)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output, no_reason.output
    no_day = invoke(database_url, *run, "--override-as-of", "--by", "j.doe", "--reason", "x")
    assert no_day.exit_code == 2, no_day.output
    assert _counts(database_url) == before

    why = "replay the run the outage of 10 June missed"
    done = invoke(database_url, *run, *day, "--by", "j.doe", "--reason", why, env=book)
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["as_of"] == "2026-06-10" and report["actions_planned"] > 0
    override = {"as_of": "2026-06-10", "today": TODAY, "by": "j.doe", "reason": why}
    assert report["as_of_override"] == override
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "collections.run")
            ).one()
            assert event.actor == "j.doe"
            assert event.data["as_of"] == "2026-06-10"
            assert event.data["as_of_override"] == override
    finally:
        engine.dispose()
    table = invoke(database_url, *run[:-2], "--no-execute", *day, "--by", "j.doe", "--reason", why)
    assert table.exit_code == 0, table.output
    assert "as of 2026-06-10 instead of today (2026-06-15), by j.doe" in table.output
