"""Finding and listing customers."""

from __future__ import annotations

import json

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from riskdesk.db.models import Customer
from riskdesk.errors import NotFoundError


def find_customer(session: Session, ref: str | int) -> Customer:
    """The customer `ref` names: riskdesk id, provider (tenant) id, or exact name.

    Raises NotFoundError("unknown customer 'x'") when nothing matches, and NotFoundError
    naming the candidates when an exact name is shared by several customers.
    """
    text_ref = str(ref).strip()
    if text_ref.isdigit():
        found = session.get(Customer, int(text_ref))
        if found is not None:
            return found
    found = session.scalars(
        select(Customer).where(Customer.provider_customer_id == text_ref)
    ).first()
    if found is not None:
        return found
    named = session.scalars(
        select(Customer).where(Customer.name == text_ref).order_by(Customer.id).limit(5)
    ).all()
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(f"{c.id} ({c.provider_customer_id})" for c in named)
        raise NotFoundError(f"customer name {text_ref!r} is ambiguous: use one of ids {ids}")
    raise NotFoundError(f"unknown customer {text_ref!r}")


def list_customers(
    session: Session, *, tag: str | None = None, limit: int | None = None
) -> list[Customer]:
    """Customers ordered by id, optionally only those carrying `tag`, at most `limit`."""
    query = select(Customer).order_by(Customer.id)
    if tag is None:
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))
    # Tags are a JSON list: narrow in SQL on its text, then check exactly in Python.
    query = query.where(cast(Customer.tags, String).contains(json.dumps(tag), autoescape=True))
    result: list[Customer] = []
    for customer in session.scalars(query.execution_options(yield_per=1000)):
        tags = customer.tags
        if isinstance(tags, str):
            tags = json.loads(tags)
        if tag in (tags or []):
            result.append(customer)
            if limit is not None and len(result) >= limit:
                break
    return result
