from sqlalchemy import select, update

from riskdesk import audit
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent


def test_chain_holds_and_names_the_first_tampered_event(engine):
    with session_scope(engine) as session:
        first = audit.record(
            session,
            actor="ops",
            action="import.completed",
            subject_type="import",
            subject_id=1,
            data={"rows": 3},
        )
        second = audit.record(
            session,
            actor="ops",
            action="payment.recorded",
            subject_type="customer",
            subject_id="c-1",
            data={"amount": "10.00"},
        )
        audit.record(session, actor="ops", action="x", subject_type="customer")
        assert second.prev_hash == first.hash
    with session_scope(engine) as session:
        assert audit.verify_chain(session) is None
    with session_scope(engine) as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == second.id).values(data={"amount": "1.00"})
        )
    with session_scope(engine) as session:
        assert audit.verify_chain(session) == second.id


def test_many_events_at_once_extend_the_same_chain(engine):
    with session_scope(engine) as session:
        audit.record(session, actor="ops", action="first", subject_type="book")
        written = audit.record_many(
            session,
            [
                audit.NewEvent("collections.stage_entered", "customer", i, {"stage": "reminder"})
                for i in range(50)
            ],
            actor="collections",
        )
        assert written == 50
        audit.record(session, actor="ops", action="last", subject_type="book")
    with session_scope(engine) as session:
        assert audit.verify_chain(session) is None
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert len(events) == 52 and events[25].data == {"stage": "reminder"}
