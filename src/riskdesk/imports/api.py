"""`import_file`: one file, one transaction, one ImportRun and one audit event."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from riskdesk import audit
from riskdesk.crashpoints import crashpoint
from riskdesk.db.models import ImportRun
from riskdesk.imports import bulkfile, rejects, reseller
from riskdesk.imports.errors import ImportFileError, RowError
from riskdesk.imports.headers import read_header, resolve
from riskdesk.imports.pc_invoice import InvoiceSpec
from riskdesk.imports.pc_usage import UsageSpec
from riskdesk.imports.reseller_rows import SmallOutcome
from riskdesk.imports.reseller_subscriptions import import_subscriptions
from riskdesk.imports.result import ImportResult

log = logging.getLogger(__name__)

PROVIDER_KINDS: dict[str, Callable[[], bulkfile.Spec]] = {
    "pc-usage": UsageSpec,
    "pc-invoice": InvoiceSpec,
}
RESELLER_KINDS = {
    "customers": reseller.import_customers,
    "subscriptions": import_subscriptions,
    "invoices": reseller.import_invoices,
    "payments": reseller.import_payments,
}
KINDS = (*PROVIDER_KINDS, *RESELLER_KINDS)


def default_reject_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _allocate(session: Session, customer_ids: set[int], result: ImportResult) -> None:
    """Apply payments to open invoices (riskdesk.book.payments.allocate) for these customers."""
    if not customer_ids:
        return
    try:
        from riskdesk.book.payments import allocate
    except ImportError:
        message = "payments were not allocated: riskdesk.book.payments.allocate is missing"
        log.warning(message)
        result.notes.append(message)
        return
    allocate(session, customer_ids=sorted(customer_ids))


def import_file(
    engine: Engine,
    kind: str,
    path: Path,
    *,
    skip_bad_rows: bool = False,
    reject_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: str = "riskdesk",
    block_size: int | None = None,
    batch_rows: int | None = None,
    overwrite_reject_file: bool = False,
    today: date | None = None,
) -> ImportResult:
    """Import `path` as `kind` (pc-usage, pc-invoice, customers, subscriptions, invoices,
    payments).

    All or nothing by default: one bad row refuses the file (ImportFileError listing every bad
    row) and nothing is written. With `skip_bad_rows` the good rows land and the bad ones are
    copied, as they were, to `reject_path` (default `<file>.rejects.csv`) with an `error`
    column. Rows already in the book are skipped, so importing a file twice changes nothing.
    `block_size` (bytes read and parsed at a time) and `batch_rows` (rows checked and inserted
    together) tune the provider exports' streaming; the defaults suit large files.

    With `skip_bad_rows` the reject file is checked before anything is read: it is never the
    input file or the database's own file (RejectFileError, whatever the flag), and an
    existing file is replaced only with `overwrite_reject_file`.

    `today` is the caller's today (a use case passes its clock's): a payment may not be
    received after it, and a customer or subscription without `created_on` is created on it.
    Left out, it is today in UTC when the import starts.
    """
    path = Path(path)
    label = str(path)
    if kind not in KINDS:
        raise ImportFileError(
            [RowError(label, 0, "kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")],
            f"unknown import kind {kind!r} (expected one of {', '.join(KINDS)})",
        )
    if not path.is_file():
        raise ImportFileError(
            [RowError(label, 0, "file", "no such file")], f"{label}: no such file"
        )
    with engine.connect() as connection, connection.begin():
        return import_into(
            connection,
            kind,
            path,
            skip_bad_rows=skip_bad_rows,
            reject_path=reject_path,
            progress=progress,
            actor=actor,
            block_size=block_size,
            batch_rows=batch_rows,
            overwrite_reject_file=overwrite_reject_file,
            today=today,
        )


def _database_files(connection: Connection) -> list[Path]:
    """The files of the SQLite database behind `connection` (none on PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return []
    rows = connection.exec_driver_sql("PRAGMA database_list").fetchall()
    return [Path(row[2]) for row in rows if row[2]]


def import_into(
    connection: Connection,
    kind: str,
    path: Path,
    *,
    skip_bad_rows: bool = False,
    reject_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: str = "riskdesk",
    block_size: int | None = None,
    batch_rows: int | None = None,
    overwrite_reject_file: bool = False,
    today: date | None = None,
) -> ImportResult:
    """`import_file` in the caller's transaction (the provider sync imports pulled usage so).

    Raising leaves the caller to roll back; nothing is committed here.
    """
    path = Path(path)
    label = str(path)
    target = Path(reject_path) if reject_path else default_reject_path(path)
    if skip_bad_rows:
        rejects.check_target(
            target, path, _database_files(connection), overwrite=overwrite_reject_file
        )
    result = ImportResult(kind=kind, file=label)
    started = datetime.now(UTC)
    day = today or started.date()
    session = Session(bind=connection)
    out: bulkfile.Outcome | SmallOutcome
    try:
        if kind in PROVIDER_KINDS:
            spec = PROVIDER_KINDS[kind]()
            header, _raw = read_header(path)
            positions = resolve(header, spec.fields, label)
            out = bulkfile.run(
                connection,
                spec,
                path,
                label,
                header,
                positions,
                skip_bad_rows=skip_bad_rows,
                progress=progress,
                block_size=block_size,
                batch_rows=batch_rows,
            )
            sha256 = out.sha256
            result.rows_rejected = out.rows_rejected
            rejected_lines = out.bad_lines
            rejected_records: list[tuple[str, str]] = []
        else:
            out = RESELLER_KINDS[kind](session, path, label, skip_bad_rows, actor=actor, today=day)
            sha256 = _sha256(path)
            result.rows_rejected = len(out.rejected)
            rejected_lines = {}
            rejected_records = out.rejected
            if progress is not None:
                size = path.stat().st_size
                progress(size, size)
        result.rows_read = out.rows_read
        result.rows_inserted = out.rows_inserted
        result.rows_duplicate = out.rows_duplicate
        result.rows_updated = getattr(out, "rows_updated", 0)
        result.errors = out.errors
        result.notes.extend(getattr(out, "notes", []))
        result.ignored_columns = list(getattr(out, "ignored_columns", []))
        if result.rows_rejected and not skip_bad_rows:
            raise ImportFileError(
                out.errors,
                f"{label}: {result.rows_rejected} bad row(s); nothing was imported "
                "(fix them, or import only the good rows)",
            )
        if result.rows_rejected:
            if rejected_lines:
                rejects.write_from_lines(
                    path, target, rejected_lines, overwrite=overwrite_reject_file
                )
            else:
                _header, raw_header = read_header(path)
                rejects.write_records(
                    target, raw_header, rejected_records, overwrite=overwrite_reject_file
                )
            result.reject_path = target
        if kind in ("invoices", "payments"):
            _allocate(session, getattr(out, "customer_ids", set()), result)
        run = ImportRun(
            kind=kind,
            file_name=label[-500:],
            file_sha256=sha256,
            started_at=started,
            finished_at=datetime.now(UTC),
            rows_read=result.rows_read,
            rows_inserted=result.rows_inserted,
            rows_rejected=result.rows_rejected,
        )
        session.add(run)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="import.completed",
            subject_type="import_run",
            subject_id=run.id,
            data={
                "kind": kind,
                "file": label,
                "sha256": sha256,
                "rows_read": result.rows_read,
                "rows_inserted": result.rows_inserted,
                "rows_duplicate": result.rows_duplicate,
                "rows_updated": result.rows_updated,
                "rows_rejected": result.rows_rejected,
                "ignored_columns": result.ignored_columns,
                "reject_path": str(result.reject_path) if result.reject_path else None,
            },
        )
        session.flush()
        crashpoint("import.before_commit")
    finally:
        session.close()
    return result
