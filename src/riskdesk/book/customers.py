"""Finding and listing customers."""

from __future__ import annotations

import json

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from riskdesk.db.models import Customer
from riskdesk.errors import InvalidInputError, NotFoundError

#: The largest id a row can have on both databases: ids are INTEGER primary keys, 32 bits on
#: PostgreSQL (SQLite's are 64, but riskdesk counts them from 1 there too). A larger number
#: names no row; compared with an id column it would overflow (PostgreSQL, or SQLite beyond 64).
LARGEST_ID = 2**31 - 1

#: How many candidates an ambiguous reference names.
CANDIDATES_SHOWN = 10


class AmbiguousCustomerError(InvalidInputError):
    """`ref` names several customers: the message lists the first few (id, name, domain).

    Kind `invalid`: the reference does not pick one customer, so the caller must give a
    sharper one (the id or the tenant id); nothing about the book is wrong.
    """

    def __init__(self, ref: str, candidates: list[Customer], total: int) -> None:
        self.ref = ref
        self.candidates = candidates
        self.total = total
        shown = "; ".join(f"#{c.id} {c.name} ({c.domain or 'no domain'})" for c in candidates)
        more = f"; and {total - len(candidates)} more" if total > len(candidates) else ""
        super().__init__(
            f"customer {ref!r} is ambiguous: {total} customers have that domain or name: "
            f"{shown}{more}; give the id or the tenant id instead"
        )


def find_customer(session: Session, ref: str | int) -> Customer:
    """The one customer `ref` names: riskdesk id, provider (tenant) id, domain or exact name.

    The id and the tenant id are unique and are tried first; then a domain (for a Partner
    Center customer the default domain, e.g. contoso.onmicrosoft.com) and the exact name,
    both case-insensitive, together. Raises NotFoundError naming `ref` when nothing matches
    and AmbiguousCustomerError (an InvalidInputError) naming the candidates when several
    customers match.

    Case-insensitive means SQL lower(): on SQLite that folds ASCII letters only.
    """
    text_ref = str(ref).strip()
    if text_ref.isdigit() and 1 <= int(text_ref) <= LARGEST_ID:
        found = session.get(Customer, int(text_ref))
        if found is not None:
            return found
    found = session.scalars(
        select(Customer).where(Customer.provider_customer_id == text_ref)
    ).first()
    if found is not None:
        return found
    folded = text_ref.lower()
    matches = or_(func.lower(Customer.domain) == folded, func.lower(Customer.name) == folded)
    candidates = session.scalars(
        select(Customer).where(matches).order_by(Customer.id).limit(CANDIDATES_SHOWN + 1)
    ).all()
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFoundError(
            f"unknown customer {text_ref!r}: no customer has that id, tenant id, domain or name"
        )
    total = len(candidates)
    if total > CANDIDATES_SHOWN:
        total = session.scalar(select(func.count()).select_from(Customer).where(matches)) or 0
    raise AmbiguousCustomerError(text_ref, list(candidates[:CANDIDATES_SHOWN]), total)


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
