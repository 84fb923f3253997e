"""Continuation tokens for the sandbox's paged collections.

A token is opaque to the client: base64url of a small JSON object naming the collection it
belongs to (`s`, the path and the filters) and the offset of the next item (`o`). Using a
token on another collection, or a token that does not decode, is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class BadToken(ValueError):
    """The continuation token does not decode, or belongs to another collection."""


def encode_token(scope: str, offset: int) -> str:
    raw = json.dumps({"s": scope, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, scope: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadToken("the continuation token is not valid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("o"), int) or data["o"] < 0:
        raise BadToken("the continuation token is not valid")
    if data.get("s") != scope:
        raise BadToken("the continuation token belongs to another query")
    return data["o"]


def page(items: Sequence[T], offset: int, size: int) -> tuple[Sequence[T], int | None]:
    """The items from `offset` (at most `size`) and the offset of the next page, if any."""
    chunk = items[offset : offset + size]
    following = offset + size
    return chunk, (following if following < len(items) else None)
