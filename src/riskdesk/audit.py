"""Append-only, hash-chained audit trail: who decided what, when, and why.

Each event's hash covers its content and the previous event's hash, so editing or deleting
a past event breaks the chain and `verify_chain` names the first broken event.

Appends are serialised so that no two events name the same predecessor: on PostgreSQL each
appending transaction first takes a transaction-scoped advisory lock (`CHAIN_LOCK`), held
until it commits or rolls back, and only then reads the chain's head; SQLite serialises
writers already.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from riskdesk.db.bulk import bulk_insert
from riskdesk.db.models import AuditEvent

GENESIS = "0" * 64

# The key of the PostgreSQL advisory lock that serialises appends to the chain.
CHAIN_LOCK = 0x5249534B_41554454  # "RISKAUDT"


def lock_chain(session: Session) -> None:
    """Take the right to append to the chain now, before this transaction locks any row.

    A transaction that updates rows and then audits takes the chain lock last; one that audits
    early (sync) and then updates rows takes it first: two such transactions can deadlock on
    PostgreSQL. Calling this first in a transaction that will audit keeps one lock order. The
    lock is held to the end of the transaction (taking it again is harmless); SQLite needs none.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def _chain_head(session: Session) -> str:
    """The newest event's hash, with the right to append after it until the transaction ends.

    A row lock on the newest event (``FOR UPDATE``) is not enough on PostgreSQL: a transaction
    waiting for it gets that same row back once the holder commits, not the event the holder
    added, and the chain forks. The advisory lock is taken before the head is read, so under
    READ COMMITTED the read sees whatever the previous holder committed.
    """
    lock_chain(session)
    query = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    return session.scalars(query).first() or GENESIS


def _digest(
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | None,
    data: dict[str, Any],
) -> str:
    body = json.dumps(
        [
            prev_hash,
            occurred_at.astimezone(UTC).isoformat(),
            actor,
            action,
            subject_type,
            subject_id,
            data,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (so it commits with the change it explains).

    Appends are serialised by `CHAIN_LOCK` on PostgreSQL (held until the caller's transaction
    ends); SQLite serialises writers already.
    """
    moment = occurred_at or datetime.now(UTC)
    payload = json.loads(json.dumps(data or {}, default=str))
    prev_hash = _chain_head(session)
    subject = None if subject_id is None else str(subject_id)
    event = AuditEvent(
        occurred_at=moment,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject,
        data=payload,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, moment, actor, action, subject_type, subject, payload),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class NewEvent:
    action: str
    subject_type: str
    subject_id: str | int | None = None
    data: dict[str, Any] | None = None


_COLUMNS = (
    "occurred_at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "prev_hash",
    "hash",
)


def record_many(
    session: Session,
    events: list[NewEvent],
    *,
    actor: str,
    occurred_at: datetime | None = None,
    json_ready: bool = False,
) -> int:
    """Append many events at once (a collections run audits every transition it plans).

    One read of the chain's head, hashes chained in Python, one bulk insert, in the caller's
    transaction. Returns the number written.

    With `json_ready` the caller vouches that every event's data is already made of JSON
    values only (dicts with string keys, lists or tuples, strings, numbers, booleans, None),
    so it is not converted first. Each event's data is stored as the very text its hash
    covers.
    """
    if not events:
        return 0
    moment = occurred_at or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: riskdesk stores timezone-aware UTC")
    prev_hash = _chain_head(session)
    when = moment.astimezone(UTC).isoformat()
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode
    sha256 = hashlib.sha256
    # The head of `_digest`'s list after prev_hash (a hex string, encoded as itself in quotes)
    # repeats a few values: each is encoded once.
    encoded: dict[Any, str] = {}

    def once(value: Any) -> str:
        text = encoded.get(value)
        if text is None:
            text = encoded[value] = encode(value)
        return text

    fixed = f"{encode(when)},{encode(actor)}"
    rows = []
    for event in events:
        data = event.data or {}
        payload = data if json_ready else json.loads(json.dumps(data, default=str))
        subject = None if event.subject_id is None else str(event.subject_id)
        text = encode(payload)
        # Exactly `_digest`'s body: the head of the list, then the data as encoded above.
        head = (
            f'["{prev_hash}",{fixed},{once(event.action)},{once(event.subject_type)},'
            f"{encode(subject)}"
        )
        digest = sha256(f"{head},{text}]".encode()).hexdigest()
        rows.append(
            (moment, actor, event.action, event.subject_type, subject, text, prev_hash, digest)
        )
        prev_hash = digest
    bulk_insert(session.connection(), cast(Table, AuditEvent.__table__), _COLUMNS, rows)
    return len(rows)


@dataclass(frozen=True)
class BrokenEvent:
    """The first event where the chain does not hold, and what is wrong with it."""

    id: int
    occurred_at: datetime
    actor: str
    action: str
    problem: str


@dataclass(frozen=True)
class ChainCheck:
    events: int  # how many events were read (up to and including the first broken one)
    broken: BrokenEvent | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def check_chain(session: Session, *, batch: int = 5000) -> ChainCheck:
    """Walk the chain oldest first; stop at the first event whose link or hash is wrong.

    An event's hash covers its time, actor, action, subject and data and the previous event's
    hash: an edit to any of them shows as a hash that no longer matches; a deleted or inserted
    event as a link (`prev_hash`) that does not name the event before it. (Deleting the newest
    events leaves a shorter chain that holds: compare the count with what you last saw.)
    """
    columns = (
        AuditEvent.id,
        AuditEvent.occurred_at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.subject_type,
        AuditEvent.subject_id,
        AuditEvent.data,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    )
    prev_hash, prev_id, count = GENESIS, None, 0
    rows = session.execute(
        select(*columns).order_by(AuditEvent.id).execution_options(yield_per=batch)
    )
    for row in rows:
        count += 1
        problem = None
        if row.prev_hash != prev_hash:
            before = "the start of the chain" if prev_id is None else f"event {prev_id}"
            problem = (
                f"its link is broken: prev_hash {row.prev_hash[:12]}... does not name "
                f"{before} (hash {prev_hash[:12]}...): an event before it was deleted, inserted "
                "or rewritten"
            )
        else:
            expected = _digest(
                prev_hash,
                row.occurred_at,
                row.actor,
                row.action,
                row.subject_type,
                row.subject_id,
                row.data,
            )
            if row.hash != expected:
                problem = (
                    "its content does not match its hash: its time, actor, action, subject or "
                    "data was changed after it was written"
                )
        if problem is not None:
            rows.close()
            broken = BrokenEvent(row.id, row.occurred_at, row.actor, row.action, problem)
            return ChainCheck(count, broken)
        prev_hash, prev_id = row.hash, row.id
    return ChainCheck(count)


def verify_chain(session: Session) -> int | None:
    """The id of the first event whose hash or link is wrong, or None when the chain holds."""
    broken = check_chain(session).broken
    return None if broken is None else broken.id
