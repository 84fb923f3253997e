"""The crash matrix (issue 13): the process killed at each named step, on SQLite and PostgreSQL.

Each cell copies a small demo book, starts the provider sandbox in this process (so its state
outlives the killed command) and runs the real CLI in a separate process with
RISKDESK_TEST_KILL_AT naming one crash point (`riskdesk.crashpoints`: exit 137 there, no
cleanup, no rollback). The killed process must end with 137. Then, in this process and without
the hook, the same command runs again and a `collections run` follows (it recovers an action
whose executor is gone, by its dead pid, and carries out what is left). The canonical snapshot
after that (the book's tables without ids and timestamps, the outbox as (key, kind, status),
the audit trail's event names but those recording an invocation (`collections.run`,
`sync.completed`, the `last_sync` report: a command run again after a kill that came after its
commit is one invocation more) and the recovery events, the sandbox's subscription statuses
and quantities, and the Message-IDs in the Maildir, each exactly once) must equal that of the
same commands never killed (one reference per command and database).

The one deliberate difference, asserted as such: an e-mail whose sending had started
(`executor.after_effect_started`, `executor.after_effect_before_record:notify_email`) is not
sent again. Its action waits for a person in `awaiting_approval` with "delivery uncertain"
and an `action.uncertain` audit event instead of `action.done`: at most once without a person.
Killed after the marker and before SMTP, the message is not in the Maildir; killed after SMTP,
it is there once.

The killed commands are forked from one process that imported the CLI once (a zygote: a
process start costs ~3 s of imports, the whole matrix would not fit in its time otherwise);
each fork is its own process with its own pid and start time, as a fresh `riskdesk` is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_url_with_schema
from crash_snapshot import (
    _status,
    book_snapshot,
    differences,
    mail_snapshot,
    provider_snapshot,
)
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides
from riskdesk.crashpoints import ENV, KILLED
from riskdesk.db.engine import make_engine, migrate, session_scope
from riskdesk.db.models import Base as ModelBase
from riskdesk.db.models import CollectionState, Customer
from riskdesk.imports.samples import write_pc_usage_csv
from riskdesk.providers.sandbox import SandboxState, start_sandbox
from riskdesk.providers.settings import SANDBOX_DEFAULT_TOKEN

pytestmark = pytest.mark.slow

DAY = "2026-06-15"
STANDARD = Path(__file__).parents[1] / "src" / "riskdesk" / "policies" / "standard.yaml"

ZYGOTE = r"""
import json, os, sys
from riskdesk.app.clock import FixedClock
from riskdesk.cli import app
from riskdesk.cli._common import Overrides

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.environ.update(job["env"])
        code = 0
        try:
            app(job["argv"], obj=Overrides(clock=FixedClock.on(job["day"])), prog_name="riskdesk")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Zygote:
    """One Python process that imported the CLI; each job is a fork of it (a new process)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )

    def run(self, argv: list[str], env: dict[str, str], out: Path) -> tuple[int, str]:
        assert self.process.stdin and self.process.stdout
        job = {"argv": argv, "env": env, "out": str(out), "day": DAY}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        code = int(self.process.stdout.readline())
        return code, out.read_text()

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(30)


runner = CliRunner()


def cli(url: str, *args: str, env: dict[str, str]):
    return runner.invoke(
        app,
        ["--database-url", url, *args],
        env={"COLUMNS": "200", **env},
        obj=Overrides(clock=FixedClock.on(DAY)),
    )


# ---------------------------------------------------------------------------- the books


class Books:
    """Books of one kind: templates built once, a fresh copy per cell (SQLite: a file copy;
    PostgreSQL: schemas of the test database, copied table by table into one work schema, as
    CREATE DATABASE ... TEMPLATE and DROP DATABASE each cost seconds of checkpoint)."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind, self.root = kind, root
        self.made: list[str] = []
        self.prefix = f"rdcrash_{uuid.uuid4().hex[:8]}"

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.root / (name + '.db')}"
        return _postgres_url_with_schema(self._schema(name))

    def _schema(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _admin(self, *statements: str) -> None:
        assert POSTGRES_URL
        admin = make_engine(POSTGRES_URL)
        try:
            with admin.begin() as connection:
                for sql in statements:
                    connection.execute(text(sql))
        finally:
            admin.dispose()

    def empty(self, name: str) -> str:
        if self.kind == "postgresql":
            self._admin(f'CREATE SCHEMA "{self._schema(name)}"')
            self.made.append(self._schema(name))
        return self.url(name)

    def copy(self, template: str, name: str) -> str:
        if self.kind == "sqlite":
            shutil.copyfile(self.root / f"{template}.db", self.root / f"{name}.db")
            return self.url(name)
        # One work schema, emptied and filled from the template for each cell.
        source, target = self._schema(template), self._schema("work" if name[0] == "c" else name)
        if target not in self.made:
            self.empty("work" if name[0] == "c" else name)
            engine = make_engine(_postgres_url_with_schema(target))
            migrate(engine)
            engine.dispose()
        tables = [t for t in ModelBase.metadata.sorted_tables]
        listed = ", ".join(f'"{target}"."{t.name}"' for t in tables)
        statements = [f"TRUNCATE {listed} RESTART IDENTITY CASCADE"]
        for table in tables:
            statements.append(
                f'INSERT INTO "{target}"."{table.name}" SELECT * FROM "{source}"."{table.name}"'
            )
            if "id" in table.c and table.c.id.autoincrement is not False:
                qualified = f'"{target}"."{table.name}"'
                statements.append(
                    f"SELECT setval(pg_get_serial_sequence('{qualified}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {qualified}), 1), "
                    f"(SELECT count(*) > 0 FROM {qualified}))"
                )
        self._admin(*statements)
        return _postgres_url_with_schema(target)

    def drop_all(self) -> None:
        self._admin(*(f'DROP SCHEMA IF EXISTS "{n}" CASCADE' for n in reversed(self.made)))


@dataclass
class Base:
    books: Books
    policy: Path
    state0: Path  # sandbox state of the demo book
    state1: Path  # after a first collections run
    suspended: str  # a customer the first run suspended (its provider id)
    owed: tuple[str, str]  # its open balance (amount, currency)
    tenants: list[str]


def _checkpoint(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory) -> Base:
    kind = request.param
    if kind == "postgresql" and not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("RISKDESK_REQUIRE_POSTGRES=1 but RISKDESK_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL: set RISKDESK_TEST_DATABASE_URL to run (see README)")
    root = tmp_path_factory.mktemp(f"crash-{kind}")
    books = Books(kind, root)
    # Suspensions carried out without a person's approval, so the provider sees them.
    policy = root / "policy.yaml"
    policy.write_text(
        "\n".join(
            "approval_threshold: {EUR: 900000000, USD: 900000000, GBP: 900000000}"
            if line.startswith("approval_threshold:")
            else line
            for line in STANDARD.read_text().splitlines()
        )
        + "\n"
    )
    url0 = books.empty("b0")
    state0 = root / "state0.json"
    made = cli(
        url0, "demo", "--customers", "20", "--months", "4", "--as-of", DAY,
        "--truth", str(root / "truth.json"), "--sandbox-state", str(state0), "--json",
        env={},
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    _checkpoint(url0)
    url1 = books.copy("b0", "b1")
    state = SandboxState.load(state0)
    with start_sandbox(state, token=SANDBOX_DEFAULT_TOKEN) as sandbox:
        env = {"RISKDESK_PROVIDER_BASE_URL": sandbox.base_url, "RISKDESK_MAIL_DIR": str(root / "m")}
        first = cli(url1, "collections", "run", "--policy", str(policy), "--json", env=env)
        assert first.exit_code == 0, first.output
    state1 = root / "state1.json"
    state.path = state1
    state.save()
    engine = make_engine(url1)
    with session_scope(engine) as session:
        suspended = session.scalars(
            select(Customer.provider_customer_id)
            .join(CollectionState, CollectionState.customer_id == Customer.id)
            .where(CollectionState.stage == "suspended")
            .order_by(Customer.id)
        ).first()
        tenants = list(
            session.scalars(select(Customer.provider_customer_id).order_by(Customer.id))
        )[:4]
    engine.dispose()
    assert suspended is not None
    shown = json.loads(cli(url1, "customers", "show", suspended, "--json", env={}).output)
    owed = shown["facts"]["open_balance"]
    _checkpoint(url1)
    owing = (owed["amount"], owed["currency"])
    yield Base(books, policy, state0, state1, suspended, owing, tenants)
    if kind == "postgresql":
        books.drop_all()


@pytest.fixture(scope="module")
def zygote():
    process = Zygote()
    yield process
    process.close()


# ---------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    template: str  # b0: the demo book; b1: after a first collections run

    def prepare(self, base: Base, where: Path, state: SandboxState) -> list[str]:
        """The command (after --database-url), with what it needs written under `where`."""
        policy = ["--policy", str(base.policy)]
        if self.name == "collections":
            return ["collections", "run", *policy, "--json"]
        if self.name == "payment":
            amount, currency = base.owed
            return ["payments", "record", base.suspended, amount, currency,
                    "--reference", "BANK-CRASH-1", *policy, "--json"]  # fmt: skip
        if self.name == "import-usage":
            usage = write_pc_usage_csv(
                where / "usage.csv", base.tenants, 40, seed=5, start_date=date(2026, 6, 1),
                days=10, currency="EUR",
            )  # fmt: skip
            return ["import", "pc-usage", str(usage), "--json"]
        if self.name == "import-payments":
            amount, currency = base.owed
            file = where / "payments.csv"
            file.write_text(
                "reference,customer,received_on,currency,amount\n"
                f"BANK-CRASH-2,{base.suspended},{DAY},{currency},{amount}\n"
            )
            return ["import", "payments", str(file), "--json"]
        if self.name == "sync":
            _changed_at_the_provider(state)
            return ["sync", "--json"]
        raise AssertionError(self.name)


def _changed_at_the_provider(state: SandboxState) -> None:
    """What a sync has to bring in: a seat count changed and a subscription cancelled there."""
    changed = 0
    for tenant in sorted(state.subscriptions):
        for sub_id in sorted(state.subscriptions[tenant]):
            sub = state.subscriptions[tenant][sub_id]
            if _status(sub) == "active" and changed < 2:
                if changed == 0:
                    sub.quantity = (sub.quantity or 1) + 7
                else:
                    sub.status = type(sub.status)("suspended")
                changed += 1
    assert changed == 2


COLLECTIONS = Scenario("collections", "b0")
PAYMENT = Scenario("payment", "b1")
IMPORT_USAGE = Scenario("import-usage", "b1")
IMPORT_PAYMENTS = Scenario("import-payments", "b1")
SYNC = Scenario("sync", "b1")

HELD_UNSENT = "held, not sent"
HELD_SENT = "held, sent once"
CELLS = [
    (COLLECTIONS, "collections.after_plan_before_commit", None),
    (COLLECTIONS, "collections.after_commit", None),
    (COLLECTIONS, "executor.after_claim", None),
    (COLLECTIONS, "executor.after_effect_started", HELD_UNSENT),
    (COLLECTIONS, "executor.after_effect_before_record:notify_email", HELD_SENT),
    (COLLECTIONS, "executor.after_effect_before_record:suspend_subscription", None),
    (COLLECTIONS, "executor.after_record", None),
    (PAYMENT, "payment.before_commit", None),
    (PAYMENT, "payment.after_commit", None),
    (PAYMENT, "reevaluate.before_settled", None),
    (PAYMENT, "executor.after_effect_before_record:reactivate_subscription", None),
    (IMPORT_USAGE, "import.after_batch", None),
    (IMPORT_USAGE, "import.before_commit", None),
    (IMPORT_PAYMENTS, "import.before_commit", None),
    (SYNC, "sync.after_fetch", None),
    (SYNC, "sync.mid_write", None),
    (SYNC, "sync.before_commit", None),
    (SYNC, "sync.after_commit", None),
]


# ---------------------------------------------------------------------------- the snapshot


@dataclass
class Outcome:
    book: dict[str, Any]
    provider: dict[tuple[str, str], tuple[str, Any]]
    mail: Counter
    first_code: int
    first_output: str


def play(
    base: Base,
    scenario: Scenario,
    where: Path,
    zygote: Zygote,
    kill_at: str | None,
    *,
    twice: bool = False,
) -> Outcome:
    """Run the scenario's command (killed at `kill_at`, in another process; or `twice`, not
    killed), again, then a collections run; the snapshot after."""
    where.mkdir(parents=True, exist_ok=True)
    name = f"c{uuid.uuid4().hex[:8]}"
    url = base.books.copy(scenario.template, name)
    state = SandboxState.load(base.state0 if scenario.template == "b0" else base.state1)
    command = scenario.prepare(base, where, state)
    maildir = where / "mail"
    with start_sandbox(state, token=SANDBOX_DEFAULT_TOKEN) as sandbox:
        env = {"RISKDESK_PROVIDER_BASE_URL": sandbox.base_url, "RISKDESK_MAIL_DIR": str(maildir)}
        if kill_at is not None:
            code, output = zygote.run(
                ["--database-url", url, *command],
                {**env, ENV: kill_at, "COLUMNS": "200"},
                where / "killed.out",
            )
            assert code == KILLED, f"{kill_at} was never reached: exit {code}\n{output}"
        if twice:
            assert cli(url, *command, env=env).exit_code == 0
        again = cli(url, *command, env=env)
        first_code, first_output = again.exit_code, again.output
        run = cli(url, "collections", "run", "--policy", str(base.policy), "--json", env=env)
        assert run.exit_code == 0, run.output
        verified = cli(url, "audit", "verify", env=env)
        assert verified.exit_code == 0, verified.output
    snapshot = Outcome(book_snapshot(url), provider_snapshot(state), mail_snapshot(maildir),
                       first_code, first_output)  # fmt: skip
    if base.books.kind == "sqlite":
        (base.books.root / f"{name}.db").unlink()
    return snapshot


_references: dict[tuple[str, str], Outcome] = {}


def reference(
    base: Base, scenario: Scenario, tmp_path_factory, zygote: Zygote, *, twice: bool = False
) -> Outcome:
    key = (base.books.kind, scenario.name, twice)
    if key not in _references:
        where = tmp_path_factory.mktemp(f"ref-{scenario.name}")
        _references[key] = play(base, scenario, where, zygote, None, twice=twice)
    return _references[key]


@pytest.mark.parametrize(
    ("scenario", "kill_at", "held"),
    CELLS,
    ids=[f"{s.name}-{point}" for s, point, _ in CELLS],
)
def test_killed_at_a_step_then_run_again_ends_as_a_run_never_killed(
    base, zygote, tmp_path, tmp_path_factory, scenario, kill_at, held
):
    # Killed after its commit, a sync run again is a second sync: it records its own import
    # run and reports again what the provider holds differently; compare with two syncs.
    twice = kill_at == "sync.after_commit"
    expected = reference(base, scenario, tmp_path_factory, zygote, twice=twice)
    assert expected.first_code == 0, expected.first_output
    got = play(base, scenario, tmp_path, zygote, kill_at)

    # Running the command again: refused as already done only where it had committed.
    committed = kill_at in ("payment.after_commit", "reevaluate.before_settled") or (
        scenario is PAYMENT and kill_at.startswith("executor.")
    )
    if committed:
        assert got.first_code == 4, got.first_output  # conflict: a payment is recorded once
        assert "BANK-CRASH-1' is already recorded" in got.first_output
    else:
        assert got.first_code == 0, got.first_output

    assert got.provider == expected.provider
    assert all(n == 1 for n in got.mail.values()), got.mail  # no e-mail twice
    if held is None:
        assert got.book == expected.book, differences(got.book, expected.book)
        assert got.mail == expected.mail
        return

    # At most once: the e-mail whose sending had started waits for a person.
    outbox = dict(((k, kind), s) for k, kind, s in got.book["outbox_actions"])
    reference_outbox = dict(((k, kind), s) for k, kind, s in expected.book["outbox_actions"])
    differs = {k: (reference_outbox[k], s) for k, s in outbox.items() if reference_outbox[k] != s}
    assert list(differs.values()) == [("done", "awaiting_approval")], differs
    ((key, kind),) = differs
    assert kind == "notify_email"
    missing = expected.mail - got.mail
    if held == HELD_UNSENT:
        assert len(missing) == 1  # the marker was committed, the message never handed over
    else:
        assert got.mail == expected.mail  # handed over before the kill: there once
    audit = expected.book["audit_events"].copy()
    audit["action.done"] -= 1
    assert got.book["audit_events"] == audit
    rest = {t: v for t, v in got.book.items() if t not in ("outbox_actions", "audit_events")}
    assert rest == {t: v for t, v in expected.book.items() if t in rest}
