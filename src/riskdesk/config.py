"""Settings, read from the environment when asked for (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///riskdesk.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    config_file: Path | None = None  # [provider] settings; None: ./riskdesk.toml if present

    @classmethod
    def from_env(cls, database_url: str | None = None, config_file: Path | None = None) -> Settings:
        """An explicit URL wins over RISKDESK_DATABASE_URL, which wins over the default."""
        return cls(
            database_url=database_url
            or os.environ.get("RISKDESK_DATABASE_URL")
            or DEFAULT_DATABASE_URL,
            config_file=config_file,
        )
