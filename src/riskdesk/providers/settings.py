"""Provider settings and the one factory that builds a `Provider` from them.

Read from the ``[provider]`` table of ``riskdesk.toml`` and from environment variables
``RISKDESK_PROVIDER_<KEY>`` (upper case; the environment wins over the file)::

    [provider]
    kind = "partner_center"        # or "sandbox"
    cloud = "global"               # or "china" (Partner Center operated by 21Vianet)
    tenant_id = "contoso.onmicrosoft.com"
    client_id = "00000000-0000-0000-0000-000000000000"
    # client_secret / refresh_token: better in RISKDESK_PROVIDER_CLIENT_SECRET / _REFRESH_TOKEN
    token_cache_file = "~/.cache/riskdesk/msal.json"   # written with mode 0600
    # login_host = "https://login.example"  # overrides the cloud's login host (https only;
    #                                        # msal's instance discovery is then off)
    timeout = 30
    max_attempts = 5

Secrets (``client_secret``, ``refresh_token``, ``sandbox_token``) are pydantic ``SecretStr``:
repr, str and JSON show ``**********``; ``.get_secret_value()`` is the only way to read one.
A bad value raises `ConfigError` naming the file or variable and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from riskdesk.errors import ConfigError
from riskdesk.providers.auth import AppOnlyToken, AppUserToken, StaticToken, TokenProvider
from riskdesk.providers.base import Provider
from riskdesk.providers.partner_center import PartnerCenter, endpoints

ENV_PREFIX = "RISKDESK_PROVIDER_"
DEFAULT_FILE = "riskdesk.toml"
SANDBOX_DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - the local sandbox's well-known token


class ProviderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sandbox", "partner_center"] = "sandbox"
    cloud: Literal["global", "china"] = "global"
    base_url: str | None = Field(default=None, description="overrides the cloud's API URL")
    login_host: str | None = Field(
        default=None,
        description="overrides the cloud's login host (an https URL, no tenant); msal's "
        "instance discovery is off for it",
    )
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    certificate_path: Path | None = None
    certificate_thumbprint: str | None = None
    refresh_token: SecretStr | None = None
    token_cache_file: Path | None = None
    sandbox_token: SecretStr = SecretStr(SANDBOX_DEFAULT_TOKEN)
    sandbox_state: Path | None = Field(
        default=None,
        description="kind 'sandbox' without base_url: run a sandbox from this state file "
        "on a free loopback port for the length of the command",
    )
    timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=15, ge=1, le=50)
    max_total_seconds: float = Field(default=300.0, gt=0)
    locale: str = "en-US"

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> ProviderSettings:
        """Settings from ``path`` (default ./riskdesk.toml when present) and the environment."""
        env = os.environ if env is None else env
        sources: dict[str, str] = {}
        values: dict[str, Any] = {}
        file = Path(path) if path is not None else Path(DEFAULT_FILE)
        if path is not None or file.exists():
            table = _read_provider_table(file)
            for key, value in table.items():
                values[key] = value
                sources[key] = f"{file} [provider].{key}"
        for name, value in env.items():
            if name.startswith(ENV_PREFIX):
                key = name[len(ENV_PREFIX) :].lower()
                values[key] = value
                sources[key] = f"environment variable {name}"
        return cls.from_values(values, sources)

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], sources: Mapping[str, str] | None = None
    ) -> ProviderSettings:
        sources = sources or {}
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else "(provider)"
            where = sources.get(key, f"provider setting {key!r}")
            if err["type"] == "extra_forbidden":
                known = ", ".join(cls.model_fields)
                raise ConfigError(f"{where}: unknown key {key!r} (known: {known})") from None
            shown = "" if key in _SECRET_KEYS else f" (got {err.get('input')!r})"
            raise ConfigError(f"{where}: {err['msg']}{shown}") from None

    @field_validator("login_host")
    @classmethod
    def _https_login_host(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("https://") and len(value) > 8):
            raise ValueError("must be an https URL such as https://login.microsoftonline.com")
        return value.rstrip("/") if value else value

    def api_base_url(self) -> str:
        return (self.base_url or endpoints(self.cloud).api_base_url).rstrip("/")

    def authority_host(self) -> str:
        return self.login_host or endpoints(self.cloud).authority_host


_SECRET_KEYS = {"client_secret", "refresh_token", "sandbox_token"}


def _read_provider_table(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{file}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    table = data.get("provider", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: [provider] must be a table")
    return table


def build_token_provider(settings: ProviderSettings) -> TokenProvider:
    if settings.kind == "sandbox":
        return StaticToken(settings.sandbox_token.get_secret_value())
    missing = [k for k in ("tenant_id", "client_id") if not getattr(settings, k)]
    if missing:
        raise ConfigError(
            "provider kind 'partner_center' needs "
            + " and ".join(f"{ENV_PREFIX}{k.upper()} (or [provider].{k})" for k in missing)
        )
    ep = endpoints(settings.cloud)
    common: dict[str, Any] = {
        "tenant_id": settings.tenant_id,
        "client_id": settings.client_id,
        "authority_host": settings.authority_host(),
        "scope": ep.scope,
        # msal knows the clouds' login hosts; it cannot vouch for another one
        "instance_discovery": settings.login_host is None,
        "token_cache_file": settings.token_cache_file.expanduser()
        if settings.token_cache_file
        else None,
    }
    secret = settings.client_secret.get_secret_value() if settings.client_secret else None
    if settings.refresh_token is not None:
        return AppUserToken(
            refresh_token=settings.refresh_token.get_secret_value(),
            client_secret=secret,
            **common,
        )
    if secret or (settings.certificate_path and settings.certificate_thumbprint):
        try:
            return AppOnlyToken(
                client_secret=secret,
                certificate_path=settings.certificate_path,
                certificate_thumbprint=settings.certificate_thumbprint,
                **common,
            )
        except OSError as exc:
            raise ConfigError(
                f"provider certificate_path {settings.certificate_path}: {exc.strerror}"
            ) from None
    raise ConfigError(
        "provider kind 'partner_center' needs credentials: refresh_token (app+user), "
        "client_secret, or certificate_path with certificate_thumbprint (app-only)"
    )


@contextmanager
def open_provider(settings: ProviderSettings) -> Iterator[Provider]:
    """The configured provider, for the length of a `with` block.

    With kind 'sandbox', no base_url and a `sandbox_state` file, a sandbox is started from
    that file on a free loopback port (a real socket: the same client code runs as against
    Partner Center) and stopped afterwards; changes it makes are saved back to the file.
    """
    if settings.kind == "sandbox" and not settings.base_url and settings.sandbox_state:
        from riskdesk.providers.sandbox import SandboxState, SandboxStateError, start_sandbox

        try:
            state = SandboxState.load(settings.sandbox_state)
        except SandboxStateError as exc:
            raise ConfigError(f"provider sandbox_state: {exc}") from None
        token = settings.sandbox_token.get_secret_value()
        # Saved once when the command ends, not after every change (a demo book's state is
        # ~100 MB of JSON and a collections run may change hundreds of subscriptions).
        state.path = None
        try:
            with start_sandbox(state, token=token) as sandbox:
                yield build_provider(settings.model_copy(update={"base_url": sandbox.base_url}))
        finally:
            state.path = settings.sandbox_state
            state.save()
        return
    yield build_provider(settings)


def build_provider(settings: ProviderSettings) -> Provider:
    """The one place a `Provider` is built (CLI, API and tests share it)."""
    if settings.kind == "sandbox" and not settings.base_url:
        raise ConfigError(
            f"provider kind 'sandbox' needs base_url ({ENV_PREFIX}BASE_URL or "
            "[provider].base_url, the address a running `riskdesk sandbox` listens on) or "
            f"sandbox_state ({ENV_PREFIX}SANDBOX_STATE, a sandbox state file such as the "
            "demo's demo-sandbox.json)"
        )
    return PartnerCenter(
        build_token_provider(settings),
        cloud=settings.cloud,
        base_url=settings.base_url,
        timeout=settings.timeout,
        connect_timeout=settings.connect_timeout,
        max_attempts=settings.max_attempts,
        max_total_seconds=settings.max_total_seconds,
        locale=settings.locale,
    )
