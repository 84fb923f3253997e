"""Opening, closing and listing cases, each with an audit event, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.db.models import Case, CaseKind, CaseStatus, Customer
from riskdesk.errors import ConflictError, InvalidInputError, NotFoundError


class CaseStateError(ConflictError):
    """A case is not in a status that allows what was asked (closing a closed case ...)."""


def open_case(
    session: Session,
    *,
    customer_id: int,
    kind: CaseKind | str,
    title: str,
    by: str,
    source_key: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
    _again: bool = False,
) -> tuple[Case, bool]:
    """The customer's open case of `kind`, opened now if there is none; (case, opened now).

    An open case of the same kind takes the new request instead of a second case (its
    `data["requests"]` counts them); a `source_key` already used returns that case.
    """
    kind = CaseKind(kind).value
    moment = now or datetime.now(UTC)
    if source_key is not None:
        seen = session.scalars(select(Case).where(Case.source_key == source_key)).first()
        if seen is not None:
            return seen, False
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    current = session.scalars(
        select(Case).where(
            Case.customer_id == customer_id,
            Case.kind == kind,
            Case.status == CaseStatus.OPEN.value,
        )
    ).first()
    if current is not None:
        current.data = {
            **(current.data or {}),
            "requests": (current.data or {}).get("requests", 1) + 1,
        }
        audit.record(
            session,
            actor=by,
            action="case.requested_again",
            subject_type="customer",
            subject_id=customer_id,
            data={"case_id": current.id, "source_key": source_key},
            occurred_at=moment,
        )
        return current, False
    case = Case(
        customer_id=customer_id,
        kind=kind,
        status=CaseStatus.OPEN.value,
        title=title,
        source_key=source_key,
        data={**(data or {}), "requests": 1},
        opened_at=moment,
        opened_by=by,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # Another transaction opened one for this customer and kind (or this key) a moment
        # ago (PostgreSQL; SQLite writers take turns): join it, as if it had been there.
        if _again:
            raise
        return open_case(
            session, customer_id=customer_id, kind=kind, title=title, by=by,
            source_key=source_key, data=data, now=moment, _again=True,
        )  # fmt: skip
    audit.record(
        session,
        actor=by,
        action="case.opened",
        subject_type="customer",
        subject_id=customer_id,
        data={"case_id": case.id, "kind": kind, "title": title, "source_key": source_key},
        occurred_at=moment,
    )
    return case, True


def close_case(
    session: Session, case_id: int, *, by: str, resolution: str, now: datetime | None = None
) -> Case:
    """Close an open case with what was decided (a resolution is required)."""
    if not resolution.strip():
        raise InvalidInputError(f"case {case_id}: say how it was resolved (a resolution)")
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} does not exist")
    if case.status != CaseStatus.OPEN.value:
        raise CaseStateError(f"case {case_id} is {case.status}, not open: nothing to close")
    moment = now or datetime.now(UTC)
    case.status = CaseStatus.CLOSED.value
    case.closed_at = moment
    case.closed_by = by
    case.resolution = resolution.strip()
    audit.record(
        session,
        actor=by,
        action="case.closed",
        subject_type="customer",
        subject_id=case.customer_id,
        data={"case_id": case.id, "resolution": case.resolution},
        occurred_at=moment,
    )
    return case


def list_cases(
    session: Session,
    *,
    status: CaseStatus | str | None = CaseStatus.OPEN,
    kind: CaseKind | str | None = None,
    customer_id: int | None = None,
) -> list[Case]:
    """Cases, oldest first (status None: every status)."""
    query = select(Case).order_by(Case.opened_at, Case.id)
    if status is not None:
        query = query.where(Case.status == CaseStatus(status).value)
    if kind is not None:
        query = query.where(Case.kind == CaseKind(kind).value)
    if customer_id is not None:
        query = query.where(Case.customer_id == customer_id)
    return list(session.scalars(query))
