"""The collections commands as a user runs them (Typer app in-process), SQLite and PostgreSQL."""

from __future__ import annotations

import json
import mailbox
import re
from pathlib import Path

from typer.testing import CliRunner

from riskdesk.cli import app

STANDARD = Path(__file__).parents[1] / "policies" / "standard.yaml"
runner = CliRunner()


def invoke(database_url, *args, env=None):
    return runner.invoke(
        app, ["--database-url", database_url, *args], env={"COLUMNS": "200", **(env or {})}
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


def test_dry_run_then_run_then_rerun_on_the_demo_book(database_url, tmp_path):
    state = demo_book(database_url, tmp_path)
    env = {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
    }
    common = ["collections", "run", "--as-of", "2026-06-15", "--policy", str(STANDARD), "--json"]
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


def test_a_blast_radius_stop_is_lifted_for_one_run_by_a_named_person(database_url, tmp_path):
    state = demo_book(database_url, tmp_path)
    env = {
        "RISKDESK_PROVIDER_SANDBOX_STATE": str(state),
        "RISKDESK_MAIL_DIR": str(tmp_path / "mail"),
    }
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        STANDARD.read_text().replace("max_suspensions_per_run: 50", "max_suspensions_per_run: 1")
    )
    common = ["collections", "run", "--as-of", "2026-06-15", "--policy", str(strict), "--json"]
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


def test_recording_a_payment_reinstates_at_once(database_url, tmp_path):
    from sqlalchemy import select

    from riskdesk.db.engine import make_engine, session_scope
    from riskdesk.db.models import CollectionState

    state = demo_book(database_url, tmp_path)
    env = {"RISKDESK_PROVIDER_SANDBOX_STATE": str(state), "RISKDESK_MAIL_DIR": str(tmp_path / "m")}
    run = ["collections", "run", "--as-of", "2026-06-15", "--policy", str(STANDARD), "--json"]
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
