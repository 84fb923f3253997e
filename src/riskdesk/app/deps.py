"""What every use case gets: settings, a clock and the parts built from them.

Built once per process (a command, the API server, a scheduler tick) by
`riskdesk.app.bootstrap.bootstrap`; tests build the same object with a fixed clock, a
provider talking to a sandbox and a mailer of their choosing instead of patching anything.
Parts are made when first asked for, so a command that needs no provider never reads the
provider's settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from riskdesk.app.clock import Clock, today
from riskdesk.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from riskdesk.actions.executor import Executor
    from riskdesk.collections.policy import Policy
    from riskdesk.notify.mail import Mailer
    from riskdesk.providers.base import Provider


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    open_provider: Callable[[], AbstractContextManager[Provider]]
    make_mailer: Callable[[], Mailer]
    check_effects: Callable[[], None]  # raises ConfigError if provider or mail could not start
    _engine: Engine | None = field(default=None, repr=False)
    _schema_checked: bool = field(default=False, repr=False)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return today(self.clock)

    def engine(self, *, require_schema: bool = True) -> Engine:
        """The book's engine, checked to open (and, unless asked not to, to be migrated)."""
        from riskdesk.app.database import open_engine

        if self._engine is None:
            self._engine = open_engine(self.settings.database_url)
        if require_schema and not self._schema_checked:
            from riskdesk.app.database import require_current_schema

            require_current_schema(self._engine, self.settings.database_url)
            self._schema_checked = True
        return self._engine

    def policy(self, path: Path | None = None) -> Policy:
        """The collections policy at `path` (--policy), else the configured one (RISKDESK_POLICY,
        the config file: `Settings.policy_file`), else the one shipped in the package."""
        from riskdesk.collections.policy import load_policy, load_shipped_policy

        chosen = path or self.settings.policy_file()
        return load_shipped_policy() if chosen is None else load_policy(chosen)

    @contextmanager
    def executor(self, actor: str) -> Iterator[Executor]:
        """The executor with the configured provider and mailer, for a `with` block."""
        from riskdesk.actions.executor import Executor
        from riskdesk.app.bootstrap import action_registry

        mailer = self.make_mailer()
        with self.open_provider() as provider:
            yield Executor(
                self.engine(),
                provider,
                mailer,
                registry=action_registry(),
                now=self.clock.now,
                actor=actor,
            )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
