"""msal's client-credentials flow for real: a local HTTPS login host (tests/token_endpoint.py)
answers the OpenID configuration and token requests msal makes (instance discovery off, as
for any login host msal does not know), over a socket. The token cache file is private
(0600), and the client secret never reaches a log record, an error, the output of a command
or the audit trail, through a refused login (whose reply even repeats the secret) and an
accepted one."""

from __future__ import annotations

import logging
import os
import stat
import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from outbox_fixtures import SUSPEND, T0, _executor
from riskdesk.actions import outbox
from riskdesk.cli import app
from riskdesk.db.engine import session_scope
from riskdesk.db.models import AuditEvent, OutboxAction, Subscription
from riskdesk.errors import RiskdeskError
from riskdesk.providers.auth import AppOnlyToken
from riskdesk.providers.clouds import endpoints
from riskdesk.providers.errors import PermanentProviderError
from riskdesk.providers.sandbox import sample_state, start_sandbox
from riskdesk.providers.settings import ProviderSettings, build_provider, build_token_provider
from token_endpoint import TokenEndpoint

CLIENT = "4f0bfe9c-6d33-4f2d-a1b2-9c1d2e3f4a5b"
TENANT = "contoso.onmicrosoft.com"
SECRET = "Rk~8Q" + uuid.uuid4().hex + ".only-the-app-knows"
WRONG = "Wr0ng~" + uuid.uuid4().hex + ".an-old-secret"
ACCESS = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.local-access-token." + uuid.uuid4().hex
runner = CliRunner()


@pytest.fixture
def login(tmp_path, monkeypatch):
    """The login host, trusted through REQUESTS_CA_BUNDLE (as requests users do for a proxy);
    `hostile`: a refused login's description repeats the secret it was sent."""
    with TokenEndpoint(
        tmp_path, client_id=CLIENT, client_secret=SECRET, access_token=ACCESS, hostile=True
    ) as endpoint:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
        yield endpoint


def _settings(login, cache, secret=SECRET, **more) -> ProviderSettings:
    return ProviderSettings.from_values(
        {
            "kind": "partner_center",
            "tenant_id": TENANT,
            "client_id": CLIENT,
            "client_secret": secret,
            "login_host": login.host,
            "token_cache_file": str(cache),
            **more,
        }
    )


def test_client_credentials_is_a_real_exchange_with_the_login_host(login, tmp_path):
    cache = tmp_path / "not-yet" / "msal.json"
    token = build_token_provider(_settings(login, cache))
    assert isinstance(token, AppOnlyToken)
    old = os.umask(0)  # the file is private whatever the umask
    try:
        assert token.get_token() == ACCESS
    finally:
        os.umask(old)
    assert [(r["method"], r["path"]) for r in login.requests] == [
        ("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration"),
        ("POST", f"/{TENANT}/oauth2/v2.0/token"),
    ]  # no instance discovery (/common/discovery/instance), one token request
    form = login.requests[1]["form"]
    assert form["grant_type"] == "client_credentials"
    assert (form["client_id"], form["client_secret"]) == (CLIENT, SECRET)
    assert form["scope"] == endpoints("global").scope
    # msal answers from its cache until the token is near expiry
    assert token.get_token() == ACCESS
    assert len(login.token_requests()) == 1
    # the cache file: the owner's alone, msal's cache (the token, never the secret)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    text = cache.read_text(encoding="utf-8")
    assert ACCESS in text and SECRET not in text
    assert sorted(p.name for p in cache.parent.iterdir()) == ["msal.json"]
    # another process reading the same file asks the login host for no new token
    again = build_token_provider(_settings(login, cache))
    assert again.get_token() == ACCESS
    assert len(login.token_requests()) == 1


def test_a_refused_secret_is_named_by_the_host_error_not_shown(login, tmp_path):
    token = build_token_provider(_settings(login, tmp_path / "msal.json", secret=WRONG))
    with pytest.raises(PermanentProviderError) as caught:
        token.get_token()
    assert login.token_requests()[-1]["form"]["client_secret"] == WRONG  # sent, and echoed
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert WRONG not in message and "**********" in message
    assert WRONG not in repr(token) and WRONG not in repr(caught.value.args)
    assert not (tmp_path / "msal.json").exists()  # nothing to cache


def test_a_login_host_must_be_https():
    with pytest.raises(RiskdeskError, match="login_host.*https"):
        ProviderSettings.from_values({"login_host": "http://127.0.0.1:1"})


def _env(login, sandbox, cache, secret) -> dict[str, str]:
    return {
        "RISKDESK_PROVIDER_KIND": "partner_center",
        "RISKDESK_PROVIDER_BASE_URL": sandbox.base_url,
        "RISKDESK_PROVIDER_LOGIN_HOST": login.host,
        "RISKDESK_PROVIDER_TENANT_ID": TENANT,
        "RISKDESK_PROVIDER_CLIENT_ID": CLIENT,
        "RISKDESK_PROVIDER_CLIENT_SECRET": secret,
        "RISKDESK_PROVIDER_TOKEN_CACHE_FILE": str(cache),
        "RISKDESK_PROVIDER_MAX_ATTEMPTS": "2",
        "REQUESTS_CA_BUNDLE": str(login.ca_file),
    }


def _every_stored_value(engine) -> str:
    """Every row of every table of the book, as text (the audit trail, the outbox, ...)."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in meta.sorted_tables
            for row in connection.execute(select(table))
        )


def _suspend(engine, provider, key: str) -> OutboxAction:
    with session_scope(engine) as session:
        sub = session.scalars(
            select(Subscription)
            .where(Subscription.provider_status == "active")
            .order_by(Subscription.id)
        ).first()
        action = outbox.enqueue(
            session, key=key, kind="suspend_subscription", customer_id=sub.customer_id,
            subscription_id=sub.id, payload=SUSPEND, now=T0,
        )  # fmt: skip
        action_id = action.id
    _executor(engine, provider, max_attempts=1).run_once()
    with session_scope(engine) as session:
        return session.get(OutboxAction, action_id)


def test_the_secret_is_in_no_log_error_output_or_audit(
    login, engine, database_url, tmp_path, monkeypatch, caplog, capfd
):
    monkeypatch.chdir(tmp_path)  # no ./riskdesk.toml
    caplog.set_level(logging.DEBUG)  # every logger, msal's and urllib3's included
    state = sample_state(seed=2)
    outputs: list[str] = []
    with start_sandbox(state, token=ACCESS) as sandbox:  # it accepts only the issued token

        def sync(secret: str, cache: str):
            result = runner.invoke(
                app,
                ["--database-url", database_url, "sync"],
                env=_env(login, sandbox, tmp_path / cache, secret),
            )
            outputs.append(result.output)
            outputs.append(repr(result.exception))
            return result

        refused = sync(WRONG, "wrong.json")  # a refused login: nothing is written
        assert refused.exit_code != 0
        assert "invalid_client" in refused.output and "**********" in refused.output
        accepted = sync(SECRET, "msal.json")  # an accepted one: the book is synced, audited
        assert accepted.exit_code == 0, accepted.output
        assert stat.S_IMODE((tmp_path / "msal.json").stat().st_mode) == 0o600

        # the executor: a refused login fails the action (its error in the outbox and the
        # audit trail); an accepted one suspends the subscription
        settings = _settings(login, tmp_path / "executor.json", base_url=sandbox.base_url)
        refusing = settings.model_copy(
            update={"client_secret": SecretStr(WRONG), "token_cache_file": tmp_path / "x.json"}
        )
        failed = _suspend(engine, build_provider(refusing), "k-refused")
        assert failed.status == "failed" and "invalid_client" in (failed.last_error or "")
        done = _suspend(engine, build_provider(settings), "k-accepted")
        assert done.status == "done", done.last_error

    with session_scope(engine) as session:
        actions = {a for (a,) in session.execute(select(AuditEvent.action))}
    assert {"sync.completed", "action.failed", "action.done"} <= actions, actions
    assert len(login.token_requests()) >= 4  # every login above was a real exchange
    stored = _every_stored_value(engine)
    assert ACCESS not in stored
    captured = capfd.readouterr()
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "invalid_client" in stored  # the refusal was recorded, with the secret masked
    for secret in (SECRET, WRONG):
        assert secret not in stored
        assert secret not in logged
        assert secret not in "\n".join(outputs)
        assert secret not in captured.out + captured.err
        for file in tmp_path.glob("*.json"):
            assert secret not in file.read_text(encoding="utf-8")
