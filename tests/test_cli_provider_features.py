"""`budget`, `service-requests` and `fraud event-status` as a user runs them against a
sandbox over a real socket (Typer app in-process), on SQLite and PostgreSQL; on the 21Vianet
cloud, opening a service request says why it cannot and what to do instead."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from riskdesk.cli import app
from riskdesk.providers.sandbox import sample_state, start_sandbox

runner = CliRunner()


def invoke(database_url, sandbox, *args, cloud="global"):
    env = {
        "COLUMNS": "200",
        "RISKDESK_PROVIDER_KIND": "sandbox",
        "RISKDESK_PROVIDER_BASE_URL": sandbox.base_url,
        "RISKDESK_PROVIDER_SANDBOX_TOKEN": sandbox.token,
        "RISKDESK_PROVIDER_CLOUD": cloud,
        "RISKDESK_PROVIDER_MAX_ATTEMPTS": "3",
    }
    return runner.invoke(
        app, ["--database-url", database_url, "--actor", "analyst:kim", *args], env=env
    )


def test_budget_service_request_and_fraud_status_from_the_command_line(engine, database_url):
    state = sample_state(seed=3)
    contoso, _fabrikam, northwind = state.customer_list()[:3]
    with start_sandbox(state) as sandbox:
        synced = invoke(database_url, sandbox, "sync")
        assert synced.exit_code == 0, synced.output
        assert "usage budgets" in synced.output
        shown = invoke(database_url, sandbox, "budget", "show", contoso.id, "--at-provider")
        assert shown.exit_code == 0, shown.output
        assert (
            "budget 500.00 EUR" in shown.output
            and "at the provider now: 500.00 EUR" in shown.output
        )
        done = invoke(database_url, sandbox, "budget", "set", northwind.id, "900", "--json")
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["budget"] == {"amount": "900.00", "currency": "USD"}
        bad = invoke(database_url, sandbox, "budget", "set", northwind.id, "--", "-1")
        assert bad.exit_code == 2 and "negative" in bad.output
        opened = invoke(
            database_url, sandbox, "service-requests", "open", northwind.id, "--title",
            "Suspected crypto mining", "--evidence", "GPU VMs 480 hours a day", "--json",
        )  # fmt: skip
        assert opened.exit_code == 0, opened.output
        reference = json.loads(opened.output)["reference"]
        assert reference in state.service_requests
        listed = invoke(database_url, sandbox, "service-requests", "list", "--status", "open")
        assert reference in listed.output and "API" in listed.output
        event = next(e for e in state.fraud_events.values() if e.event_status == "Active")
        moved = invoke(
            database_url, sandbox, "fraud", "event-status", event.subscription_id,
            "--status", "Investigating",
        )  # fmt: skip
        assert moved.exit_code == 0, moved.output
        assert state.fraud_events[event.event_id].event_status == "Investigating"
        back = invoke(
            database_url, sandbox, "fraud", "event-status", event.subscription_id,
            "--status", "Active",
        )  # fmt: skip
        assert back.exit_code == 4 and "stay resolved" in back.output


def test_on_21vianet_the_command_says_why_and_a_hand_filed_ticket_is_recorded(engine, database_url):
    state = sample_state(seed=3)
    northwind = state.customer_list()[2]
    with start_sandbox(state) as sandbox:
        assert invoke(database_url, sandbox, "sync", cloud="china").exit_code == 0
        refused = invoke(
            database_url, sandbox, "service-requests", "open", northwind.id, "--title", "Mining",
            "--evidence", "GPU VMs", cloud="china",
        )  # fmt: skip
        assert refused.exit_code == 6
        assert "21Vianet" in refused.output and "no service-request API" in refused.output
        assert "riskdesk service-requests record" in refused.output
        recorded = invoke(
            database_url, sandbox, "service-requests", "record", northwind.id, "--reference",
            "CN-2026-000417", "--title", "Mining", "--evidence", "GPU VMs", cloud="china",
        )  # fmt: skip
        assert recorded.exit_code == 0, recorded.output
        assert "filed by hand" in recorded.output
        closed = invoke(
            database_url, sandbox, "service-requests", "update", "CN-2026-000417", "--status",
            "closed", "--note", "disabled by 21Vianet", cloud="china",
        )  # fmt: skip
        assert closed.exit_code == 0, closed.output
        again = invoke(
            database_url, sandbox, "service-requests", "update", "CN-2026-000417", "--status",
            "open", cloud="china",
        )  # fmt: skip
        assert again.exit_code == 4 and "stays closed" in again.output
        budget = invoke(database_url, sandbox, "budget", "set", northwind.id, "5", cloud="china")
        assert budget.exit_code == 6 and "budget API" in budget.output
