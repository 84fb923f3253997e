"""Case use cases: list cases, close one with what was decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from riskdesk.app.deps import Deps
from riskdesk.book.customers import find_customer
from riskdesk.cases import close_case as _close
from riskdesk.cases import list_cases as _list
from riskdesk.db.engine import session_scope
from riskdesk.db.models import CaseStatus, Customer


@dataclass(frozen=True)
class CaseRow:
    id: int
    customer_id: int
    customer: str
    kind: str
    status: str
    title: str
    opened_at: datetime
    requests: int
    closed_by: str | None
    resolution: str | None


def list_cases(
    deps: Deps, *, status: CaseStatus | None = CaseStatus.OPEN, customer: str | None = None
) -> list[CaseRow]:
    """Cases, oldest first (status None: all), optionally one customer's."""
    with session_scope(deps.engine()) as session:
        customer_id = find_customer(session, customer).id if customer else None
        cases = _list(session, status=status, customer_id=customer_id)
        ids = sorted({c.customer_id for c in cases})
        names = (
            dict(
                session.execute(
                    select(Customer.id, Customer.name).where(Customer.id.in_(ids))
                ).all()
            )
            if ids
            else {}
        )
        return [
            CaseRow(
                id=c.id,
                customer_id=c.customer_id,
                customer=names.get(c.customer_id, str(c.customer_id)),
                kind=c.kind,
                status=c.status,
                title=c.title,
                opened_at=c.opened_at,
                requests=int((c.data or {}).get("requests", 1)),
                closed_by=c.closed_by,
                resolution=c.resolution,
            )
            for c in cases
        ]


def close_case(deps: Deps, case_id: int, *, actor: str, resolution: str) -> None:
    with session_scope(deps.engine()) as session:
        _close(session, case_id, by=actor, resolution=resolution, now=deps.now())
