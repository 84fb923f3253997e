"""The composition root: one `Settings` in, the `Deps` every use case takes out.

The CLI calls `bootstrap` once per command; the API and the scheduler will call it once per
process. Tests pass their own clock, provider or mailer (real ones: a sandbox over a socket,
an SMTP server) instead of patching modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from riskdesk.app.clock import Clock, SystemClock
from riskdesk.app.deps import Deps
from riskdesk.config import Settings
from riskdesk.errors import ConfigError
from riskdesk.notify.mail import Mailer, mailer_from_env
from riskdesk.providers.base import Provider

if TYPE_CHECKING:
    from riskdesk.actions.registry import Registry


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    provider: Provider | None = None,
    mailer: Mailer | None = None,
) -> Deps:
    if provider is not None:
        given = provider

        @contextmanager
        def open_given() -> Iterator[Provider]:
            yield given

        open_provider: Callable[[], AbstractContextManager[Provider]] = open_given
    else:
        open_provider = _configured_provider(settings)
    return Deps(
        settings=settings,
        clock=clock or SystemClock(),
        open_provider=open_provider,
        make_mailer=(lambda: mailer)
        if mailer is not None
        else lambda: mailer_from_env(settings.env),
        check_effects=(lambda: None)
        if provider is not None and mailer is not None
        else lambda: _check_effects(settings, provider is None, mailer is None),
    )


def _configured_provider(settings: Settings) -> Callable[[], AbstractContextManager[Provider]]:
    def open_configured() -> AbstractContextManager[Provider]:
        from riskdesk.providers.settings import ProviderSettings, open_provider

        return open_provider(ProviderSettings.load(settings.config_file, env=settings.env))

    return open_configured


def _check_effects(settings: Settings, provider: bool, mail: bool) -> None:
    """Raise ConfigError if the executor could not start (mail, provider); no network."""
    from riskdesk.providers.settings import (
        ProviderSettings,
        build_provider,
        build_token_provider,
    )

    if mail:
        mailer_from_env(settings.env)
    if not provider:
        return
    provider_settings = ProviderSettings.load(settings.config_file, env=settings.env)
    if provider_settings.kind == "sandbox" and not provider_settings.base_url:
        if not provider_settings.sandbox_state:
            build_provider(provider_settings)  # raises the ConfigError naming what is missing
        elif not Path(provider_settings.sandbox_state).is_file():
            raise ConfigError(
                f"provider sandbox_state {provider_settings.sandbox_state}: no such file"
            )
    else:
        build_token_provider(provider_settings)  # credentials present and readable


@cache
def action_registry() -> Registry:
    """Every kind of outbox action with its effect, payload model and staleness rules.

    The collections staleness rule is registered for the kinds collections plans; it judges
    only actions whose payload origin is "collections".
    """
    from riskdesk.actions import effects
    from riskdesk.actions.payloads import PAYLOAD_MODELS
    from riskdesk.actions.registry import Registry
    from riskdesk.collections.staleness import stale_for_executor
    from riskdesk.db.models import ActionKind

    registry = Registry()
    collections = (stale_for_executor,)
    for kind, effect, stale in (
        (ActionKind.SUSPEND_SUBSCRIPTION, effects.suspend, collections),
        (ActionKind.REACTIVATE_SUBSCRIPTION, effects.reactivate, collections),
        (ActionKind.NOTIFY_EMAIL, effects.notify_email, collections),
        (ActionKind.OPEN_REVIEW_CASE, effects.open_review_case, collections),
        (ActionKind.WEBHOOK, effects.webhook, ()),
    ):
        registry.register(kind, effect=effect, payload=PAYLOAD_MODELS[kind.value], stale=stale)
    return registry
