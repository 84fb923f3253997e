"""Service requests about a customer: opened through the API (a customer and evidence text),
followed by sync until closed, the support topics cached; on the 21Vianet cloud refused with
the reason and recorded by hand with the same lifecycle. SQLite and PostgreSQL, real socket."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from provider_features import client, synced_book
from riskdesk.app import service_requests as uc
from riskdesk.app.service_requests import ManualTicket, ManualTicketNeeded, ServiceRequestAsk
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, ServiceRequestStatus, SupportTopicRecord
from riskdesk.errors import ConflictError, InvalidInputError
from riskdesk.providers.errors import NotOfferedError
from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.sync import sync_book
from sandbox_helpers import auth

EVIDENCE = "GPU meters NC24ads A100 v4 in brazilsouth, 480 hours a day since 5 June"


def _close_at_provider(state, reference: str) -> None:
    """What the provider's support does: close the request."""
    with state.lock:
        current = state.service_requests[reference]
        state.service_requests[reference] = current.model_copy(update={"status": "closed"})


def test_the_sandbox_lists_a_customer_s_requests_on_the_documented_path():
    state = sample_state(seed=3)
    contoso, fabrikam = state.customer_list()[:2]
    with start_sandbox(state) as sandbox, httpx.Client(headers=auth(sandbox.token)) as http:
        # get-all-service-requests-for-a-customer
        mine = http.get(f"{sandbox.base_url}/v1/customers/{contoso.id}/servicerequests").json()
        assert [i["title"] for i in mine["items"]] == ["Invoice G000000101 question"]
        none = http.get(f"{sandbox.base_url}/v1/customers/{fabrikam.id}/servicerequests").json()
        assert none["items"] == [] and none["totalCount"] == 0
        assert http.get(f"{sandbox.base_url}/v1/customers/x/servicerequests").status_code == 404
        pc = client(sandbox)
        assert [r.status for r in pc.list_customer_service_requests(contoso.id)] == ["closed"]


def test_a_request_is_opened_with_customer_and_evidence_and_followed_to_closed(
    engine, database_url
):
    with synced_book(engine, database_url) as (deps, state, sandbox):
        with session_scope(engine) as session:  # the first sync cached the topics
            assert session.scalar(select(func.count()).select_from(SupportTopicRecord)) == 4
        northwind = state.customer_list()[2]
        ask = ServiceRequestAsk(
            northwind.id, "Suspected crypto mining", EVIDENCE, case_id=None, key="case:7"
        )
        opened = uc.open_service_request(deps, ask, actor="analyst:kim")
        assert (opened.status, opened.manual, opened.cloud) == ("open", False, "global")
        assert opened.support_topic_id == "32444685"  # the fraud topic, chosen by name
        at_provider = state.service_requests[opened.reference]
        assert at_provider.description.startswith(
            f"Customer: {northwind.company_profile.company_name}"
        )
        assert EVIDENCE in at_provider.description and at_provider.severity == "critical"
        # The same key opens nothing more.
        assert uc.open_service_request(deps, ask, actor="analyst:kim").id == opened.id
        assert len(state.service_requests) == 2
        # A person may not move it: its status is the provider's.
        with pytest.raises(ConflictError, match="followed by sync"):
            uc.update_ticket(
                deps, opened.reference, actor="kim", status=ServiceRequestStatus.CLOSED
            )
        report = sync_book(engine, client(sandbox))
        assert (report.service_requests_followed, report.service_requests_changed) == (1, 0)
        _close_at_provider(state, opened.reference)
        report = sync_book(engine, client(sandbox))
        assert (report.service_requests_followed, report.service_requests_changed) == (1, 1)
        shown = uc.show_service_request(deps, opened.reference)
        assert shown.status == "closed" and shown.closed_at is not None
        assert [e["status"] for e in shown.timeline] == ["open", "closed"]
        after = sync_book(engine, client(sandbox))  # closed: no longer asked about
        assert after.service_requests_followed == 0
        with session_scope(engine) as session:
            actions = session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_type == "service_request")
            ).all()
        assert actions == ["service_request.opened", "service_request.status_synced"]


def test_bad_asks_are_refused_before_anything_is_sent(engine, database_url):
    with synced_book(engine, database_url) as (deps, state, _sandbox):
        tenant = state.customer_list()[2].id
        for ask, match in (
            (ServiceRequestAsk(tenant, " ", EVIDENCE), "title"),
            (ServiceRequestAsk(tenant, "t", ""), "evidence"),
            (ServiceRequestAsk(tenant, "t", EVIDENCE, severity="urgent"), "severity"),  # type: ignore[arg-type]
            (ServiceRequestAsk(tenant, "t" * 257, EVIDENCE), "256"),
            (ServiceRequestAsk(tenant, "t", EVIDENCE, support_topic="Nope"), "support topic"),
        ):
            with pytest.raises(InvalidInputError, match=match):
                uc.open_service_request(deps, ask, actor="kim")
        assert len(state.service_requests) == 1  # only the sample's own


def test_on_21vianet_opening_is_refused_with_the_reason_and_a_hand_filed_ticket_is_recorded(
    engine, database_url
):
    with synced_book(engine, database_url, cloud="china") as (deps, state, sandbox):
        tenant = state.customer_list()[2].id
        with pytest.raises(ManualTicketNeeded) as refused:
            uc.open_service_request(deps, ServiceRequestAsk(tenant, "Mining", EVIDENCE), actor="k")
        message = str(refused.value)
        assert "21Vianet" in message and "no service-request API" in message
        assert "by hand" in message and refused.value.kind == "unavailable"
        assert len(state.service_requests) == 1  # nothing sent
        with pytest.raises(NotOfferedError):
            uc.customer_requests_at_provider(deps, tenant)
        ticket = ManualTicket(tenant, "CN-2026-000417", "Mining", EVIDENCE, key="case:9")
        recorded = uc.record_manual_ticket(deps, ticket, actor="analyst:li")
        assert (recorded.manual, recorded.cloud, recorded.status) == (True, "china", "open")
        assert "no service-request API" in recorded.timeline[0]["note"]
        assert uc.record_manual_ticket(deps, ticket, actor="analyst:li").id == recorded.id
        with pytest.raises(ConflictError, match="already recorded"):
            uc.record_manual_ticket(
                deps, ManualTicket(tenant, "CN-2026-000417", "Again", EVIDENCE), actor="li"
            )
        # The same lifecycle, moved by a person.
        uc.update_ticket(
            deps,
            "CN-2026-000417",
            actor="li",
            status=ServiceRequestStatus.ATTENTION_NEEDED,
            note="21Vianet asks for VM names",
        )
        uc.update_ticket(deps, "CN-2026-000417", actor="li", note="sent the VM names")
        uc.update_ticket(deps, "CN-2026-000417", actor="li", status=ServiceRequestStatus.OPEN)
        closed = uc.update_ticket(
            deps,
            "CN-2026-000417",
            actor="li",
            status=ServiceRequestStatus.CLOSED,
            note="subscription disabled by 21Vianet",
        )
        assert [e["status"] for e in closed.timeline] == [
            "open",
            "attention_needed",
            "attention_needed",
            "open",
            "closed",
        ]
        assert closed.closed_at is not None
        with pytest.raises(ConflictError, match="stays closed"):
            uc.update_ticket(deps, "CN-2026-000417", actor="li", status=ServiceRequestStatus.OPEN)
        report = sync_book(engine, client(sandbox, "china"))  # asks the provider nothing of it
        assert "service_requests" in report.not_offered and report.service_requests_followed == 0
        listed = uc.list_service_requests(deps, customer=tenant)
        assert [r.reference for r in listed] == ["CN-2026-000417"]
        with session_scope(engine) as session:
            topics = session.scalar(select(func.count()).select_from(SupportTopicRecord))
        assert topics == 0  # no topics API there either


def test_a_customer_s_requests_at_the_provider_are_marked_known_or_not(engine, database_url):
    with synced_book(engine, database_url) as (deps, state, _sandbox):
        contoso = state.customer_list()[0].id
        rows = uc.customer_requests_at_provider(deps, contoso)
        assert [(r.title, r.status, r.in_book) for r in rows] == [
            ("Invoice G000000101 question", "closed", False)
        ]
        topics = uc.support_topics(deps)
        assert {t.name for t in topics} >= {"Billing", "Azure fraud and misuse"}
