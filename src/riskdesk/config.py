"""Settings, read from the environment when asked for (never at import).

One `Settings` is what the composition root (`riskdesk.app.bootstrap`) builds every part
from: the database, the provider (`[provider]` of the config file and RISKDESK_PROVIDER_*),
mail (RISKDESK_SMTP_* or RISKDESK_MAIL_DIR) and the collections policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///riskdesk.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    config_file: Path | None = None  # [provider] settings; None: ./riskdesk.toml if present
    policy_path: Path | None = None  # the collections policy; None: the shipped standard one
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(
        cls,
        database_url: str | None = None,
        config_file: Path | None = None,
        *,
        policy_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Explicit values win over the environment (RISKDESK_DATABASE_URL, RISKDESK_POLICY),
        which wins over the defaults."""
        env = dict(os.environ if env is None else env)
        policy = policy_path or (
            Path(env["RISKDESK_POLICY"]) if env.get("RISKDESK_POLICY") else None
        )
        return cls(
            database_url=database_url or env.get("RISKDESK_DATABASE_URL") or DEFAULT_DATABASE_URL,
            config_file=config_file,
            policy_path=policy,
            env=env,
        )
