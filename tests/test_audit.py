import threading
import time

import pytest
from sqlalchemy import func, select, text, update

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


def _wait_until_waiting_for_a_lock(engine, pid, timeout=10.0):
    """Block until the PostgreSQL backend `pid` waits for a lock (row or advisory)."""
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if connection.execute(query, {"pid": pid}).scalar_one():
                return
            connection.rollback()
            time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


def test_concurrent_writers_on_postgresql_extend_one_chain(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself")
    with session_scope(engine) as session:
        audit.record(session, actor="ops", action="seed", subject_type="book")

    errors: list[BaseException] = []
    first_appended = threading.Event()
    second_pid: list[int] = []
    second_started = threading.Event()
    second_waits = threading.Event()

    def first() -> None:
        # Appends, then keeps its transaction open until the second writer is blocked on it.
        try:
            with session_scope(engine) as session:
                events = [audit.NewEvent("e", "customer", i) for i in range(3)]
                audit.record_many(session, events, actor="first")
                first_appended.set()
                assert second_waits.wait(20)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_appended.set()

    def second() -> None:
        try:
            assert first_appended.wait(20)
            with session_scope(engine) as session:  # a connection of its own
                second_pid.append(session.scalar(text("SELECT pg_backend_pid()")))
                second_started.set()
                audit.record(session, actor="second", action="e", subject_type="customer")
        except BaseException as exc:
            errors.append(exc)
        finally:
            second_started.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        assert second_started.wait(20) and second_pid
        _wait_until_waiting_for_a_lock(engine, second_pid[0])
    finally:
        second_waits.set()
        for thread in threads:
            thread.join(30)
    assert not errors
    with session_scope(engine) as session:
        *_, last_of_first, of_second = session.scalars(
            select(AuditEvent).order_by(AuditEvent.id)
        ).all()
        assert (last_of_first.actor, of_second.actor) == ("first", "second")
        assert of_second.prev_hash == last_of_first.hash
        assert audit.verify_chain(session) is None

    # Then several writers at once, each appending in short transactions of its own.
    def writer(n: int) -> None:
        try:
            for i in range(10):
                with session_scope(engine) as session:
                    if i % 2:
                        audit.record(session, actor=f"w{n}", action="e", subject_type="x")
                    else:
                        events = [audit.NewEvent("e", "x", j) for j in range(5)]
                        audit.record_many(session, events, actor=f"w{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors

    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1 + 4 + 4 * 30
        links = session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(set(links)) == len(links)  # no two events follow the same one
        assert audit.verify_chain(session) is None
