"""Reading wire JSON whose spelling varies: keys in any case, enumerations as numbers.

The documentation writes request bodies PascalCase (``"Amount"``, ``"EventStatus"``) and
responses camelCase (``"amount"``); some responses send a documented enumeration as its
number (``"severity": 0``, ``"status": 1`` in ``get-all-service-requests-for-a-customer``) or
in another case (``AttentionNeeded``). Used by the models of `records` and `records_budget`.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, BeforeValidator


def fold_keys(cls: type[BaseModel], data: Any) -> Any:
    """`data` with each key that names a field of `cls` in another case spelled as the field's
    wire alias (``attributes``' own keys too); other keys kept as they are."""
    if not isinstance(data, dict):
        return data
    known: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        alias = info.serialization_alias or info.alias or name
        known[alias.lower()] = alias
        known[name.lower()] = alias
    folded: dict[str, Any] = {}
    for key, value in data.items():
        name = known.get(str(key).lower(), str(key))
        if name == "attributes" and isinstance(value, dict):
            value = {k[:1].lower() + k[1:]: v for k, v in value.items()}
        folded[name] = value
    return folded


def enum_by_number(literal: Any) -> Any:
    """A validator reading a documented enumeration (a `Literal` listing its values in the
    SDK's order) given as its number (the position) or in any case, with or without
    underscores."""
    names: tuple[str, ...] = get_args(literal)

    def read(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        if isinstance(value, str):
            folded = value.replace("_", "").lower()
            for name in names:
                if name.replace("_", "") == folded:
                    return name
        return value

    return BeforeValidator(read)
