"""Errors of the provider boundary, translated from httpx and pydantic in one place.

    RiskdeskError
     └── ProviderError                  anything that went wrong talking to the provider
          ├── TransientProviderError     429, 5xx, timeout, connection refused/reset: retry later
          │    └── EtagConflictError     a stale etag again after re-reading once: retry later
          ├── PermanentProviderError     any other 4xx: retrying the same request cannot help
          └── ProviderResponseError      an answer we cannot use: not JSON (an HTML error page),
                                         a missing field, a wrong type

Every error names the operation (``call``), e.g. ``list_subscriptions(customer 1234…)``, and
carries the ``MS-RequestId`` / ``MS-CorrelationId`` sent, so support can trace it. Messages
never contain the bearer token. The Partner Center client raises these `from` the original
httpx / pydantic / json exception (as httpx's ``map_httpcore_exceptions`` does).
"""

from __future__ import annotations

from riskdesk.errors import UnavailableError


class ProviderError(UnavailableError):
    def __init__(
        self,
        message: str,
        *,
        call: str = "",
        status: int | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.call = call
        self.status = status
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.detail = message
        super().__init__(self._format(message))

    def _format(self, message: str) -> str:
        head = f"{self.call}: " if self.call else ""
        ids = []
        if self.request_id:
            ids.append(f"MS-RequestId {self.request_id}")
        if self.correlation_id:
            ids.append(f"MS-CorrelationId {self.correlation_id}")
        tail = f" ({', '.join(ids)})" if ids else ""
        return f"{head}{message}{tail}"


class TransientProviderError(ProviderError):
    """Throttled, a server error, a timeout or a connection error: worth retrying later.

    ``retry_after`` is the provider's Retry-After in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class PermanentProviderError(ProviderError):
    """A 4xx answer: the request itself is wrong (or not allowed); do not retry it as is.

    ``code`` and ``description`` are the provider's (``{code, description}`` or, for a 429,
    ``{statusCode, message}``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | str | None = None,
        description: str | None = None,
        **kw,
    ) -> None:
        self.code = code
        self.description = description
        super().__init__(message, **kw)


class ProviderResponseError(ProviderError):
    """The provider answered, but not with what the API documents (malformed or unexpected)."""


#: What the documentation lists for each cloud, where it lists less than the global cloud
#: (pages' "Applies to"): the service request pages and the usage spending budget pages
#: name "Partner Center" and "Partner Center for Microsoft Cloud for US Government", not the
#: Partner Center operated by 21Vianet.
NOT_DOCUMENTED_ON = {
    "service_requests": frozenset({"china"}),
    "usage_budget": frozenset({"china"}),
}

_WHAT = {
    "service_requests": "service-request API",
    "usage_budget": "customer usage spending budget API",
}


class NotOfferedError(ProviderError):
    """The cloud's documentation lists no such API: riskdesk does not call it there.

    ``feature`` is a key of `NOT_DOCUMENTED_ON`; ``cloud`` the cloud asked.
    """

    def __init__(self, feature: str, cloud: str, *, call: str = "") -> None:
        self.feature = feature
        self.cloud = cloud
        super().__init__(
            f"the Partner Center operated by 21Vianet (cloud {cloud!r}) offers no "
            f"{_WHAT[feature]}: its documentation lists the global and US Government clouds "
            "only",
            call=call,
        )


def offered(feature: str, cloud: str) -> bool:
    """Whether the documentation lists `feature` for `cloud`."""
    return cloud not in NOT_DOCUMENTED_ON[feature]


class EtagConflictError(TransientProviderError):
    """The resource changed again between our second read and our second write (two stale
    etags in a row): nothing was changed; try again later, from a fresh read."""


ETAG_CONFLICT_CODES = frozenset({"2055"})  # error-codes page: "Etag is no longer valid"


def is_etag_conflict(error: ProviderError) -> bool:
    """A PATCH refused because the etag it carried is stale: HTTP 412 (Precondition failed,
    the documented answer to a stale If-Match), or error code 2055 with any status."""
    if not isinstance(error, PermanentProviderError):
        return False
    return error.status == 412 or str(error.code) in ETAG_CONFLICT_CODES
