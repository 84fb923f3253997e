"""Reading wire JSON whatever the case of its keys, and enumerations whatever their spelling.

Partner Center's documented request bodies are PascalCase and its responses mostly
camelCase (some PascalCase): `any_case_keys` lets every `records.WireModel` read a key in
any case. A key that matches no field is kept as it came (``extra="allow"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import AliasChoices, BaseModel

_NAMES: dict[type[BaseModel], tuple[frozenset[str], dict[str, str]]] = {}


def _names(model: type[BaseModel]) -> tuple[frozenset[str], dict[str, str]]:
    """Every spelling a model's fields accept, and a lower-cased spelling -> spelling map."""
    found = _NAMES.get(model)
    if found is not None:
        return found
    exact: list[str] = []
    for name, info in model.model_fields.items():
        spellings = [info.alias or name, name]
        choices = info.validation_alias
        if isinstance(choices, AliasChoices):
            spellings += [c for c in choices.choices if isinstance(c, str)]
        elif isinstance(choices, str):
            spellings.append(choices)
        exact += spellings
    lower: dict[str, str] = {}
    for spelling in exact:
        lower.setdefault(spelling.lower(), spelling)
    found = (frozenset(exact), lower)
    _NAMES[model] = found
    return found


def any_case_keys(model: type[BaseModel], data: Any) -> Any:
    """`data` with each key spelled as `model` knows it, when it differs only in case."""
    if not isinstance(data, dict):
        return data
    exact, lower = _names(model)
    if exact.issuperset(data):  # the usual case, checked in C: keys as the model spells them
        return data
    out: dict[Any, Any] = {}
    for key, value in data.items():
        target = key
        if isinstance(key, str) and key not in exact:
            spelled = lower.get(key.lower())
            if spelled is not None and spelled not in data and spelled not in out:
                target = spelled
        out[target] = value
    return out


def enum_key(value: str | None) -> str:
    """An enumeration value compared across spellings: ``OneTime``, ``one_time``, ``onetime``."""
    return (value or "").replace("_", "").replace("-", "").replace(" ", "").lower()


def lower_enum(value: Any) -> Any:
    """A documented lower-case enumeration read in any case (``Suspended`` is ``suspended``)."""
    return value.lower() if isinstance(value, str) else value


def numbered_enum(names: Sequence[str]) -> Callable[[Any], Any]:
    """A reader for an enumeration sent as a name (any case) or as its number in `names`."""

    def read(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and 0 <= value < len(names):
            return names[value]
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit() and int(text) < len(names):
                return names[int(text)]
            spelled = {enum_key(n): n for n in names}.get(enum_key(text))
            return spelled or value
        return value

    return read
