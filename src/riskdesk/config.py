"""Settings, read from the environment when asked for (never at import).

One `Settings` is what the composition root (`riskdesk.app.bootstrap`) builds every part
from: the database, the provider (`[provider]` of the config file and RISKDESK_PROVIDER_*),
mail (RISKDESK_SMTP_* or RISKDESK_MAIL_DIR) and the collections policy.

The collections policy is, first found: `--policy` or RISKDESK_POLICY (a relative path is
read from the current directory); `policy` in the `[collections]` table of the config file
(a relative path is read from the config file's directory):

    [collections]
    policy = "policies/ours.yaml"

else the standard policy shipped inside the package.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskdesk.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///riskdesk.db"
DEFAULT_CONFIG_FILE = "riskdesk.toml"  # read when present and no --config / RISKDESK_CONFIG


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
            Path(env["RISKDESK_POLICY"]).expanduser() if env.get("RISKDESK_POLICY") else None
        )
        return cls(
            database_url=database_url or env.get("RISKDESK_DATABASE_URL") or DEFAULT_DATABASE_URL,
            config_file=config_file,
            policy_path=policy,
            env=env,
        )

    def policy_file(self) -> Path | None:
        """The collections policy the user chose: `policy_path`, else `[collections] policy` of
        the config file (relative to that file); None: the shipped standard policy."""
        if self.policy_path is not None:
            return self.policy_path
        return configured_policy(self.config_file)


def configured_policy(config_file: Path | None) -> Path | None:
    """`policy` of the `[collections]` table of `config_file` (default ./riskdesk.toml when
    present), resolved against the file's directory; None when the file names none."""
    file = config_file if config_file is not None else Path(DEFAULT_CONFIG_FILE)
    if config_file is None and not file.is_file():
        return None
    table = _collections_table(file)
    unknown = sorted(set(table) - {"policy"})
    if unknown:
        raise ConfigError(f"{file} [collections]: unknown key {unknown[0]!r} (known: policy)")
    value = table.get("policy")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{file} [collections].policy: a path to a policy file (got {value!r})")
    path = Path(value).expanduser()
    return path if path.is_absolute() else file.parent / path


def _collections_table(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{file}: settings file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: settings file is a directory") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    table = data.get("collections", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: [collections] must be a table")
    return table
