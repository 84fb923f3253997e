"""The Partner Center clouds: API base URL, token authority and scope of each.

``partner-center-rest-urls`` (learn.microsoft.com/partner-center/developer/...): base URLs (global
``https://api.partnercenter.microsoft.com``, 21Vianet
``https://partner.partnercenterapi.microsoftonline.cn``); ``partner-center-authentication`` for the
authorities (``https://login.microsoftonline.com``, ``https://login.chinacloudapi.cn``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cloud = Literal["global", "china"]


@dataclass(frozen=True)
class CloudEndpoints:
    api_base_url: str
    authority_host: str
    scope: str


CLOUDS: dict[str, CloudEndpoints] = {
    "global": CloudEndpoints(
        api_base_url="https://api.partnercenter.microsoft.com",
        authority_host="https://login.microsoftonline.com",
        scope="https://api.partnercenter.microsoft.com/.default",
    ),
    "china": CloudEndpoints(
        api_base_url="https://partner.partnercenterapi.microsoftonline.cn",
        authority_host="https://login.chinacloudapi.cn",
        scope="https://partner.partnercenterapi.microsoftonline.cn/.default",
    ),
}


def endpoints(cloud: str) -> CloudEndpoints:
    """The API base URL, token authority host and token scope of a cloud."""
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"unknown cloud {cloud!r}; expected one of {sorted(CLOUDS)}") from None
