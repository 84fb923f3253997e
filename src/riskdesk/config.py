"""Settings, read from the environment when asked for (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///riskdesk.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Settings:
        """An explicit URL wins over RISKDESK_DATABASE_URL, which wins over the default."""
        return cls(
            database_url=database_url
            or os.environ.get("RISKDESK_DATABASE_URL")
            or DEFAULT_DATABASE_URL
        )
