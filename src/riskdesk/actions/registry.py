"""The kinds of outbox action: each with its effect, its payload model and its staleness rule.

The composition root (`riskdesk.app.bootstrap.action_registry`) registers every kind; the
executor only dispatches through the registry it is given, and `enqueue` checks a payload
against its kind's model, so a bad payload is refused when it is written, not when it runs.

A staleness rule says why an action no longer applies (the decision behind it was overtaken),
or None; the executor records a stale action done and skipped instead of carrying it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from riskdesk.actions.payloads import PAYLOAD_MODELS, ActionPayload
from riskdesk.db.models import ActionKind
from riskdesk.errors import InvalidInputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from riskdesk.actions.effects import Context, Effect
    from riskdesk.db.models import OutboxAction

    EffectFn = Callable[[Context, OutboxAction], Effect]
    StaleRule = Callable[[Session, OutboxAction], str | None]


@dataclass(frozen=True)
class ActionType:
    kind: str
    effect: EffectFn
    payload: type[ActionPayload]
    stale: tuple[StaleRule, ...] = ()


class Registry:
    """Kinds of action by name; `register` once per kind."""

    def __init__(self) -> None:
        self._types: dict[str, ActionType] = {}

    def register(
        self,
        kind: ActionKind | str,
        *,
        effect: EffectFn,
        payload: type[ActionPayload],
        stale: tuple[StaleRule, ...] | list[StaleRule] = (),
    ) -> None:
        name = ActionKind(kind).value
        if name in self._types:
            raise ValueError(f"action kind {name} is registered twice")
        self._types[name] = ActionType(name, effect, payload, tuple(stale))

    def __contains__(self, kind: object) -> bool:
        return kind in self._types

    def get(self, kind: str) -> ActionType:
        try:
            return self._types[str(kind)]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise InvalidInputError(
                f"action kind {kind!r} is not registered (registered: {known})"
            ) from None

    def models(self) -> Mapping[str, type[ActionPayload]]:
        return {name: t.payload for name, t in self._types.items()}

    def stale_reason(self, session: Session, action: OutboxAction) -> str | None:
        for rule in self.get(action.kind).stale:
            why = rule(session, action)
            if why is not None:
                return why
        return None


def check_payload(
    kind: str, payload: dict[str, Any], models: Mapping[str, type[ActionPayload]] | None = None
) -> None:
    """Raise InvalidInputError naming the kind and the field if `payload` does not fit `kind`.

    `models` defaults to the standard models (`actions.payloads.PAYLOAD_MODELS`), the ones the
    composition root registers.
    """
    model = (models or PAYLOAD_MODELS).get(kind)
    if model is None:
        raise InvalidInputError(f"action kind {kind!r} has no payload model")
    if not isinstance(payload, dict):
        raise InvalidInputError(f"{kind} payload must be a mapping, not {type(payload).__name__}")
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInputError(f"{kind} payload: {problems}") from None
