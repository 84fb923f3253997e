"""Provider settings, clouds, token providers and the factory (no network)."""

from __future__ import annotations

import os
import stat

import pytest

from riskdesk.errors import ConfigError
from riskdesk.providers.auth import AppOnlyToken, AppUserToken, FileTokenCache, StaticToken
from riskdesk.providers.base import Provider
from riskdesk.providers.partner_center import PartnerCenter, endpoints
from riskdesk.providers.records import ErrorBody, Subscription, ThrottleBody
from riskdesk.providers.settings import ProviderSettings, build_provider, build_token_provider

SECRET = "s3cr3t-client-secret-value"  # noqa: S105
REFRESH = "0.AAAA-refresh-token-value"  # noqa: S105


def test_global_cloud_endpoints():
    ep = endpoints("global")
    assert ep.api_base_url == "https://api.partnercenter.microsoft.com"
    assert ep.authority_host == "https://login.microsoftonline.com"
    assert ep.scope == "https://api.partnercenter.microsoft.com/.default"


def test_china_cloud_endpoints():
    ep = endpoints("china")
    assert ep.api_base_url == "https://partner.partnercenterapi.microsoftonline.cn"
    assert ep.authority_host == "https://login.chinacloudapi.cn"
    assert ep.scope == "https://partner.partnercenterapi.microsoftonline.cn/.default"


def test_client_picks_base_url_by_cloud_and_override():
    token = StaticToken("t")
    assert PartnerCenter(token).base_url == "https://api.partnercenter.microsoft.com"
    china = PartnerCenter(token, cloud="china")
    assert china.base_url == "https://partner.partnercenterapi.microsoftonline.cn"
    assert PartnerCenter(token, base_url="http://127.0.0.1:9/").base_url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="unknown cloud"):
        PartnerCenter(token, cloud="mars")  # type: ignore[arg-type]


def _toml(tmp_path, text: str):
    path = tmp_path / "riskdesk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_from_toml_and_env_env_wins(tmp_path):
    path = _toml(
        tmp_path,
        f"""
[provider]
kind = "partner_center"
cloud = "china"
tenant_id = "contoso.partner.onmschina.cn"
client_id = "app-1"
client_secret = "{SECRET}"
timeout = 12
max_attempts = 3
""",
    )
    env = {"RISKDESK_PROVIDER_MAX_ATTEMPTS": "7", "RISKDESK_PROVIDER_CLIENT_ID": "app-2"}
    settings = ProviderSettings.load(path, env=env)
    assert settings.kind == "partner_center" and settings.cloud == "china"
    assert settings.timeout == 12.0
    assert settings.max_attempts == 7
    assert settings.client_id == "app-2"
    assert settings.client_secret.get_secret_value() == SECRET
    assert settings.api_base_url() == "https://partner.partnercenterapi.microsoftonline.cn"
    assert settings.authority_host() == "https://login.chinacloudapi.cn"


def test_secrets_never_shown(tmp_path):
    settings = ProviderSettings.load(
        _toml(tmp_path, "[provider]\nkind = 'partner_center'\n"),
        env={
            "RISKDESK_PROVIDER_CLIENT_SECRET": SECRET,
            "RISKDESK_PROVIDER_REFRESH_TOKEN": REFRESH,
            "RISKDESK_PROVIDER_SANDBOX_TOKEN": "sandbox-secret",
        },
    )
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
    ):
        assert SECRET not in shown and REFRESH not in shown and "sandbox-secret" not in shown
    assert "**********" in repr(settings)
    assert settings.refresh_token.get_secret_value() == REFRESH


def test_bad_value_names_the_file_and_key(tmp_path):
    path = _toml(tmp_path, "[provider]\nmax_attempts = 'lots'\n")
    with pytest.raises(ConfigError) as info:
        ProviderSettings.load(path, env={})
    assert str(path) in str(info.value) and "[provider].max_attempts" in str(info.value)


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="RISKDESK_PROVIDER_CLOUD"):
        ProviderSettings.load(
            _toml(tmp_path, "[provider]\n"), env={"RISKDESK_PROVIDER_CLOUD": "mars"}
        )


def test_unknown_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'tenant'"):
        ProviderSettings.load(_toml(tmp_path, "[provider]\ntenant = 'x'\n"), env={})


def test_bad_secret_value_is_not_echoed():
    with pytest.raises(ConfigError) as info:
        ProviderSettings.from_values({"client_secret": 12345})
    assert "12345" not in str(info.value)
    assert "client_secret" in str(info.value)


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        ProviderSettings.load(_toml(tmp_path, "[provider\n"), env={})


def test_build_sandbox_provider():
    provider = build_provider(ProviderSettings(kind="sandbox", base_url="http://127.0.0.1:1"))
    assert isinstance(provider, Provider)
    assert isinstance(provider, PartnerCenter)
    assert provider.base_url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError, match="base_url"):
        build_provider(ProviderSettings(kind="sandbox"))


def test_build_partner_center_token_providers(tmp_path):
    base = {"kind": "partner_center", "tenant_id": "t", "client_id": "c"}
    app_only = build_token_provider(ProviderSettings(**base, client_secret=SECRET))
    assert isinstance(app_only, AppOnlyToken)
    app_user = build_token_provider(
        ProviderSettings(**base, refresh_token=REFRESH, token_cache_file=tmp_path / "c.json")
    )
    assert isinstance(app_user, AppUserToken)
    assert SECRET not in repr(app_only) and REFRESH not in repr(app_user)
    with pytest.raises(ConfigError, match="needs credentials"):
        build_token_provider(ProviderSettings(**base))
    with pytest.raises(ConfigError, match="RISKDESK_PROVIDER_TENANT_ID"):
        build_token_provider(ProviderSettings(kind="partner_center", client_id="c"))


def test_token_cache_file_is_private(tmp_path):
    path = tmp_path / "cache" / "msal.json"
    cache = FileTokenCache(path)
    cache.cache.add(
        {
            "client_id": "c",
            "scope": ["s"],
            "token_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "response": {"access_token": "a", "token_type": "Bearer", "expires_in": 3600},
        }
    )
    cache.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    reread = FileTokenCache(path).cache
    assert list(reread.search(reread.CredentialType.ACCESS_TOKEN))


def test_error_bodies():
    assert ErrorBody.model_validate({"code": 600, "description": "d", "data": []}).code == 600
    throttle = ThrottleBody.model_validate({"statusCode": 429, "message": "m"})
    assert (throttle.status_code, throttle.message) == (429, "m")


def test_subscription_round_trips_unknown_fields():
    wire = {
        "id": "s",
        "offerId": "o",
        "quantity": 2,
        "status": "active",
        "somethingNew": [1, 2],
        "attributes": {"etag": "e", "objectType": "Subscription"},
    }
    assert Subscription.model_validate(wire).to_wire() == wire
