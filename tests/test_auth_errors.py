"""The login side of the provider: an unreachable login host is one line naming it; the token
cache file is replaced whole (never rewritten in place) and a damaged one is discarded."""

from __future__ import annotations

import logging
import os
import socket
import stat

import pytest

from riskdesk.errors import UnavailableError
from riskdesk.providers.auth import AppOnlyToken, AppUserToken, FileTokenCache


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connecting is refused


def _token(cache: FileTokenCache, access: str) -> None:
    cache.cache.add(
        {
            "client_id": "c",
            "scope": ["s"],
            "token_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "response": {"access_token": access, "token_type": "Bearer", "expires_in": 3600},
        }
    )


@pytest.mark.parametrize("kind", ["app_only", "app_user"])
def test_unreachable_login_host_is_one_line_naming_it(kind, tmp_path):
    host = f"https://127.0.0.1:{_closed_port()}"
    common = {"tenant_id": "t", "client_id": "c", "authority_host": host, "scope": "s/.default"}
    provider = (
        AppOnlyToken(**common, client_secret="not-a-real-secret")
        if kind == "app_only"
        else AppUserToken(**common, refresh_token="not-a-real-refresh-token")
    )
    with pytest.raises(UnavailableError) as caught:
        provider.get_token()
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot reach the login host 127.0.0.1" in message
    assert "[provider] cloud" in message
    assert "not-a-real" not in message


def test_token_cache_is_replaced_whole_not_rewritten_in_place(tmp_path):
    path = tmp_path / "msal.json"
    first = FileTokenCache(path)
    _token(first, "first-token")
    first.save()
    before = os.stat(path)
    with open(path, encoding="utf-8") as reader:  # a reader holding the old file
        second = FileTokenCache(path)
        _token(second, "second-token")
        second.save()
        assert "second-token" not in reader.read()  # in place, it would see a torn/new file
    after = os.stat(path)
    assert after.st_ino != before.st_ino
    assert stat.S_IMODE(after.st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msal.json"]  # no temporary left
    assert "second-token" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]", "\x00\x00"])
def test_damaged_token_cache_is_discarded_with_a_warning(damage, tmp_path, caplog):
    path = tmp_path / "msal.json"
    path.write_text(damage, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="riskdesk.providers.auth"):
        cache = FileTokenCache(path)
    assert not list(cache.cache.search(cache.cache.CredentialType.ACCESS_TOKEN))
    assert any("damaged" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    _token(cache, "fresh")
    cache.save()
    assert "fresh" in path.read_text(encoding="utf-8")
