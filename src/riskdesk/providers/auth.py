"""Token providers: where the bearer token for Partner Center comes from.

A token provider is anything with ``get_token() -> str`` (the access token, without
"Bearer "). Three kinds:

- `AppOnlyToken`: app-only authentication, msal ``ConfidentialClientApplication`` with a
  client secret or a certificate, scope ``{resource}/.default``.
- `AppUserToken`: app+user authentication from a refresh token
  (``acquire_token_by_refresh_token``); the refresh token msal gets back replaces the old one
  in the token cache. Fraud events and service requests need app+user.
- `StaticToken`: a fixed token (the sandbox).

Authority: ``https://login.microsoftonline.com/{tenant}`` (global) or
``https://login.chinacloudapi.cn/{tenant}`` (21Vianet); resource
``https://api.partnercenter.microsoft.com`` or ``https://partner.partnercenterapi.microsoftonline.cn``.
Sources: learn.microsoft.com ``partner-center/developer/partner-center-authentication`` and
``partner-center-rest-urls``; microsoft/Partner-Center-PowerShell ``EnvironmentConstants.cs``.

The token cache is an msal ``SerializableTokenCache`` persisted to a file with mode 0600,
replaced whole (a temporary file in the same directory, fsynced, then ``os.replace``), so a
crash mid-write leaves the old cache; a cache file that cannot be read is discarded with a
warning (msal then asks for new tokens). Tokens and secrets never appear in log records,
reprs or exception messages: msal's own log records mask them, and riskdesk's messages
(a refused login, an unreachable host) have every credential it holds replaced by
``**********`` before they are raised, even when the login host's reply repeats one. A login
host that cannot be reached is one `TransientProviderError` naming the host, not msal's
traceback.

Instance discovery: msal asks ``login.microsoftonline.com`` whether an authority it does not
know is genuine. The two clouds' hosts are known to it; for another login host (a test's, a
gateway's: ``[provider] login_host``) riskdesk passes ``instance_discovery=False``, and msal
reads the tenant's OpenID configuration from that host itself. Its TLS certificate is checked
against the usual bundle (``REQUESTS_CA_BUNDLE`` names another one, as for any requests user).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

from riskdesk.providers.errors import PermanentProviderError, TransientProviderError

log = logging.getLogger(__name__)
T = TypeVar("T")


@runtime_checkable
class TokenProvider(Protocol):
    def get_token(self) -> str: ...


class StaticToken:
    """A fixed bearer token (used with the sandbox)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken('**********')"


class FileTokenCache:
    """An msal SerializableTokenCache kept in a file only its owner can read (0600)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        import msal

        self.path = Path(path) if path else None
        self.cache = msal.SerializableTokenCache()
        if self.path and self.path.exists():
            try:
                text = self.path.read_text(encoding="utf-8")
                _check_cache_shape(json.loads(text) if text.strip() else {})
                self.cache.deserialize(text)
            except (ValueError, TypeError, OSError) as exc:
                # damaged (a crash of an older version, an edit): the tokens are re-acquired
                log.warning(
                    "token cache %s is damaged and is discarded (%s)", self.path, type(exc).__name__
                )
                self.cache = msal.SerializableTokenCache()

    def save(self) -> None:
        """Replace the file whole: a temporary file beside it, fsynced, then renamed over it."""
        if not self.path or not self.cache.has_state_changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.cache.serialize())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.cache.has_state_changed = False
        with contextlib.suppress(OSError):  # the rename is durable once the directory is
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _check_cache_shape(data: object) -> None:
    """msal's serialised cache: {credential type: {key: entry}}; anything else is damage."""
    if not isinstance(data, dict) or not all(
        isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
        for entries in data.values()
    ):
        raise ValueError("not an msal token cache")


MASK = "**********"


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret in it replaced by ``**********`` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def _reaching(authority_host: str, call: Callable[[], T], secrets: tuple[str, ...] = ()) -> T:
    """`call()`, with a login host that cannot be reached (DNS, refused, TLS, timeout, not a
    login host at all) turned into one TransientProviderError naming the host."""
    import requests

    host = urlsplit(authority_host).hostname or authority_host
    try:
        return call()
    except requests.RequestException as exc:
        reason = type(exc).__name__
    except ValueError as exc:  # msal: "Unable to get authority configuration for ..."
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "ValueError"
    raise TransientProviderError(
        f"cannot reach the login host {host} ({scrub(reason, secrets)}): check the network, "
        "any proxy, and the [provider] cloud setting",
        call="authenticate",
    ) from None


def _raise_for(result: dict[str, Any] | None, what: str, secrets: tuple[str, ...] = ()) -> str:
    if result and "access_token" in result:
        return str(result["access_token"])
    result = result or {}
    error = str(result.get("error", "no token"))[:100]
    description = str(result.get("error_description", "")).splitlines()[0:1]
    text = f"{what}: {error}" + (f" ({description[0][:300]})" if description else "")
    text = scrub(text, secrets)
    error = scrub(error, secrets)
    if error in ("temporarily_unavailable", "service_unavailable") or not result:
        raise TransientProviderError(text, call="authenticate")
    raise PermanentProviderError(text, code=error, call="authenticate")


class AppOnlyToken:
    """App-only: client credentials (a secret, or a certificate with its thumbprint)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        authority_host: str,
        scope: str,
        client_secret: str | None = None,
        certificate_path: str | os.PathLike[str] | None = None,
        certificate_thumbprint: str | None = None,
        token_cache_file: str | os.PathLike[str] | None = None,
        instance_discovery: bool = True,
    ) -> None:
        import msal

        self._secrets: tuple[str, ...] = (client_secret,) if client_secret else ()
        if client_secret:
            credential: Any = client_secret
        elif certificate_path and certificate_thumbprint:
            credential = {
                "private_key": Path(certificate_path).read_text(encoding="utf-8"),
                "thumbprint": certificate_thumbprint,
            }
        else:
            raise ValueError("app-only authentication needs a client secret or a certificate")
        self._cache = FileTokenCache(token_cache_file)
        self._scopes = [scope]
        self._lock = threading.Lock()
        self._authority_host = authority_host
        self._make_app = lambda: msal.ConfidentialClientApplication(
            client_id,
            client_credential=credential,
            authority=f"{authority_host.rstrip('/')}/{tenant_id}",
            token_cache=self._cache.cache,
            instance_discovery=instance_discovery,
        )
        self._app: Any = None  # built on first use: msal discovers the authority over HTTP

    def get_token(self) -> str:
        with self._lock:
            result = _reaching(self._authority_host, self._acquire, self._secrets)
            self._cache.save()
        return _raise_for(result, "app-only authentication failed", self._secrets)

    def _acquire(self) -> Any:
        if self._app is None:
            self._app = self._make_app()
        # msal returns a cached token until it is close to expiry
        return self._app.acquire_token_for_client(scopes=self._scopes)

    def __repr__(self) -> str:
        return "AppOnlyToken(**********)"


class AppUserToken:
    """App+user: a refresh token exchanged for access tokens (and refreshed in the cache)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        authority_host: str,
        scope: str,
        refresh_token: str,
        client_secret: str | None = None,
        token_cache_file: str | os.PathLike[str] | None = None,
        instance_discovery: bool = True,
    ) -> None:
        import msal

        self._cache = FileTokenCache(token_cache_file)
        self._scopes = [scope]
        self._refresh_token = refresh_token
        self._first_refresh_token = refresh_token
        self._lock = threading.Lock()
        authority = f"{authority_host.rstrip('/')}/{tenant_id}"

        def make_app() -> Any:
            if client_secret:
                return msal.ConfidentialClientApplication(
                    client_id,
                    client_credential=client_secret,
                    authority=authority,
                    token_cache=self._cache.cache,
                    instance_discovery=instance_discovery,
                )
            return msal.PublicClientApplication(
                client_id,
                authority=authority,
                token_cache=self._cache.cache,
                instance_discovery=instance_discovery,
            )

        self._client_secret = client_secret
        self._authority_host = authority_host
        self._make_app = make_app
        self._app: Any = None  # built on first use: msal discovers the authority over HTTP

    def _secrets(self) -> tuple[str, ...]:
        held = (self._client_secret, self._first_refresh_token, self._refresh_token)
        return tuple(s for s in held if s)

    def get_token(self) -> str:
        with self._lock:
            result = _reaching(self._authority_host, self._acquire, self._secrets())
            self._cache.save()
        return _raise_for(result, "app+user authentication failed", self._secrets())

    def _acquire(self) -> Any:
        if self._app is None:
            self._app = self._make_app()
        result = None
        accounts = self._app.get_accounts()
        if accounts:
            result = self._app.acquire_token_silent(self._scopes, account=accounts[0])
        if not result:
            result = self._app.acquire_token_by_refresh_token(
                self._refresh_token, scopes=self._scopes
            )
            if result and result.get("refresh_token"):
                self._refresh_token = result["refresh_token"]
        return result

    def __repr__(self) -> str:
        return "AppUserToken(**********)"
