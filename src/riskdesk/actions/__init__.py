"""The outbox of intended actions and the executor that carries them out.

    outbox.enqueue(session, key=..., kind=..., customer_id=..., payload=...)   # deciding txn
    Executor(engine, provider, mailer, registry=registry).run_once()      # after commit

See `riskdesk.actions.executor` for the guarantees (idempotent effects, leases, e-mail).
"""
