"""Benchmark `book` / usage import: a 1M-row Partner Center daily rated usage file.

`run(scale, db, url)` writes 1,000,000 * scale rows (full 55-column header, 2,000 customers
created first) into a temp dir, then imports it in a child process so that neither the file
generation nor the parent's memory counts: rows/s is rows over the import's wall time, peak MB
is the child's peak RSS (VmHWM on Linux, else its ru_maxrss; RUSAGE_CHILDREN is not used
because on Linux ru_maxrss carries over exec from the forking parent, which here holds the
file generator's memory).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import limits
from common import note
from riskdesk.db.bulk import bulk_insert
from riskdesk.db.engine import make_engine, migrate
from riskdesk.db.models import Customer
from riskdesk.imports.samples import write_pc_usage_csv

ROWS = 1_000_000
CUSTOMERS = 2_000

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from riskdesk.db.engine import make_engine
from riskdesk.imports import import_file
engine = make_engine(sys.argv[1])
started = time.perf_counter()
result = import_file(engine, "pc-usage", Path(sys.argv[2]))
elapsed = time.perf_counter() - started
engine.dispose()
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:  # ru_maxrss survives exec (it may hold the forking parent's size); VmHWM does not
    with open("/proc/self/status") as status:
        peak_kb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"rows": result.rows_read, "inserted": result.rows_inserted,
                  "seconds": elapsed, "peak_kb": peak_kb}))
"""


def run(scale: float, db: str, url: str) -> list[dict]:
    rows = max(1, int(ROWS * scale))
    label = f"{rows / 1e6:g}M usage rows"
    engine = make_engine(url)
    migrate(engine)
    tenants = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(CUSTOMERS)]
    with engine.begin() as connection:
        bulk_insert(
            connection,
            Customer.__table__,
            [
                "provider_customer_id",
                "name",
                "currency",
                "payment_terms_days",
                "tags",
                "created_on",
            ],
            [
                (t, f"Customer {i}", "EUR", 30, "[]", date(2025, 1, 1))
                for i, t in enumerate(tenants)
            ],
        )
    engine.dispose()
    with tempfile.TemporaryDirectory(prefix="riskdesk-usage-") as directory:
        path = Path(directory) / "daily-rated-usage.csv"
        write_pc_usage_csv(path, tenants, rows, seed=7, start_date=date(2026, 1, 1))
        note(f"bench usage import: {rows} rows, {path.stat().st_size / 1e6:.0f} MB on {db}")
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, url, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if child.returncode != 0:
        raise RuntimeError(f"usage import child failed:\n{child.stderr}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    note(f"bench usage import: {measured['seconds']:.1f} s, {measured['peak_kb'] / 1024:.0f} MB")
    # The limit: the same rows written back into the same table by the driver alone.
    engine = make_engine(url)
    try:
        written, limit = limits.bare_reinsert(engine, "usage_records")
    finally:
        engine.dispose()
    if written != measured["inserted"]:
        raise RuntimeError(f"the importer inserted {measured['inserted']} rows, read {written}")
    bare = "COPY" if db == "postgresql" else "executemany"
    note(f"bench usage import: bare {bare} of the same rows {limit:.1f} s")
    return [
        {
            "bench": "book",
            "metric": "usage_import_rows_per_s",
            "value": round(measured["rows"] / measured["seconds"]),
            "unit": "rows/s",
            "target": 100000,
            "better": "higher",
            "n": label,
            "db": db,
        },
        {
            "bench": "book",
            "metric": "usage_import_peak_mb",
            "value": round(measured["peak_kb"] / 1024, 1),
            "unit": "MB",
            "target": 300,
            "better": "lower",
            "n": label,
            "db": db,
        },
        limits.figure("book", "usage_import", measured["seconds"], limit, 10, label, db),
    ]
