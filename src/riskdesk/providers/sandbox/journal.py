"""The sandbox's request journal: the MS-RequestId replay store and the request log.

Partner Center documents ``MS-RequestId`` as the key that makes a retried call safe
(learn.microsoft.com/partner-center/developer/headers: "used to ensure id-potency. If there's a
timeout, the retry call should include the same value. Upon receiving a response (success or
business failure), the value should be reset for the next call"). So the sandbox keeps the
answer the endpoint gave to each request id that a client chose, for the methods that change
state (POST, PUT, PATCH, DELETE):

* a repeat with the same id, method, path and body (its JSON compared canonically) is
  answered with the kept response and changes nothing (logged with ``replayed: true``);
* a repeat with the same id but another method, path or body is refused with 409
  (``Codes.REQUEST_ID_REUSED``): one request id is one call, never a second, different one;
* answers the front door gave instead of the endpoint (401, 413, an injected 429 / 5xx) are
  not kept: they changed nothing, and the retry under the same id is then carried out.

Repeats of one id wait for each other (one asyncio lock per id in flight), so a retry that
arrives while the first attempt is still running replays its answer instead of racing it.

The request log has one entry per request: time, method, path, request id (``null`` when the
client sent none), status, ``state_changed`` (the endpoint saved a change to the state),
``replayed``, ``body_sha256`` (of a keyed request's body), ``fault`` (what the front door
answered instead: ``throttle``, ``error``, ``unauthorized``, ``too_large``), ``dropped`` (the
connection was closed after the change, before the reply) and ``change`` (what changed, when
the route says). Tests read
`RequestLog.entries`; with a path, every entry is also appended to that file as one JSON line
(``riskdesk sandbox --request-log FILE``).

State changes are noticed through `note_change`, which `SandboxState.save` calls: a context
variable holds the entry of the request being served (the endpoint runs in the same context,
or a copy of it in the thread pool).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from riskdesk.providers.sandbox.inputs import MAX_BODY_BYTES
from riskdesk.providers.sandbox.wire import Codes, error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DROP_HEADER = b"x-riskdesk-sandbox-drop"  # private: the server closes the connection instead
MAX_KEPT = 100_000  # request ids whose answers are kept (oldest forgotten first)


@dataclass
class LogEntry:
    time: str
    method: str
    path: str
    request_id: str | None
    status: int = 0
    state_changed: bool = False
    replayed: bool = False
    fault: str | None = None
    dropped: bool = False
    change: str | None = None
    body_sha256: str | None = None  # of a keyed request's body (POST/PUT/PATCH/DELETE)


@dataclass(frozen=True)
class _Kept:
    fingerprint: tuple[str, str, str]
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


_current: ContextVar[LogEntry | None] = ContextVar("riskdesk_sandbox_request", default=None)


def note_change(what: str | None = None) -> None:
    """Record that the request being served changed the state (and, optionally, what)."""
    entry = _current.get()
    if entry is not None:
        entry.state_changed = True
        if what:
            entry.change = what if entry.change is None else f"{entry.change}; {what}"


@dataclass
class RequestLog:
    """Every request the sandbox answered, in order; optionally appended to a JSON-lines file."""

    path: Path | None = None
    entries: list[LogEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, method: str, path: str, request_id: str | None) -> LogEntry:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        return LogEntry(time=now, method=method, path=path, request_id=request_id)

    def write(self, entry: LogEntry) -> None:
        with self._lock:
            self.entries.append(entry)
            if self.path is not None:
                with Path(self.path).open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(asdict(entry), separators=(",", ":")) + "\n")

    def changes_applied_twice(self) -> list[str]:
        """Request ids under which more than one state change was applied (should be none)."""
        counts: dict[str, int] = {}
        with self._lock:
            for entry in self.entries:
                if entry.state_changed and entry.request_id:
                    counts[entry.request_id] = counts.get(entry.request_id, 0) + 1
        return sorted(rid for rid, n in counts.items() if n > 1)


def read_request_log(path: Path) -> list[LogEntry]:
    """The entries of a request log file written by `RequestLog`."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [LogEntry(**json.loads(line)) for line in lines if line.strip()]


class Journal:
    """The replay store and the log; `middleware` puts them in front of the routes."""

    def __init__(self, log: RequestLog | None = None, *, max_kept: int = MAX_KEPT) -> None:
        self.log = log or RequestLog()
        self.max_kept = max_kept
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self.drop_after_change: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------ the store

    def _keep(self, request_id: str, kept: _Kept) -> None:
        self._kept[request_id] = kept
        self._kept.move_to_end(request_id)
        while len(self._kept) > self.max_kept:
            self._kept.popitem(last=False)

    async def _lock(self, request_id: str) -> asyncio.Lock:
        lock, users = self._locks.get(request_id, (asyncio.Lock(), 0))
        self._locks[request_id] = (lock, users + 1)
        await lock.acquire()
        return lock

    def _unlock(self, request_id: str, lock: asyncio.Lock) -> None:
        lock.release()
        _, users = self._locks[request_id]
        if users <= 1:
            del self._locks[request_id]
        else:
            self._locks[request_id] = (lock, users - 1)

    # ------------------------------------------------------------------ ASGI

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def journal(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            await self._serve(app, scope, receive, send)

        return journal

    async def _serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"].upper()
        request_id = _header(scope, b"ms-requestid")
        entry = self.log.start(method, scope["path"], request_id)
        written = False

        def finish() -> None:  # before the last byte of the reply: a client that has the
            nonlocal written  # reply finds its request in the log
            if not written:
                written = True
                self.log.write(entry)

        try:
            if method not in CHANGING_METHODS or not request_id:
                token = _current.set(entry)
                try:
                    await app(scope, receive, _capturing(send, entry, finish))
                finally:
                    _current.reset(token)
                return
            lock = await self._lock(request_id)
            try:
                await self._serve_keyed(app, scope, receive, send, entry, request_id, finish)
            finally:
                self._unlock(request_id, lock)
        finally:
            finish()

    async def _serve_keyed(
        self,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        entry: LogEntry,
        request_id: str,
        finish: Callable[[], None],
    ) -> None:
        chunks_in: list[bytes] = []
        size = 0
        body_done = False

        async def hashing_receive() -> Message:
            nonlocal body_done, size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= MAX_BODY_BYTES:
                    chunks_in.append(chunk)
                body_done = body_done or not message.get("more_body", False)
            return message

        kept = self._kept.get(request_id)
        if kept is not None:
            # The body is read to compare it with the kept call's.
            while not body_done and size <= MAX_BODY_BYTES:
                message = await hashing_receive()
                if message["type"] != "http.request":
                    break
            fingerprint = (entry.method, entry.path, _body_digest(chunks_in, size))
            entry.body_sha256 = fingerprint[2]
            if fingerprint == kept.fingerprint:
                entry.replayed = True
                entry.status = kept.status
                finish()
                await _send_kept(send, kept)
                return
            response = error_response(
                409,
                Codes.REQUEST_ID_REUSED,
                f"MS-RequestId {request_id} was already used for another request "
                f"({kept.fingerprint[0]} {kept.fingerprint[1]}); use a new id for a new call",
            )
            await response(scope, _nothing_more, _capturing(send, entry, finish))
            return
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def keeping_send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != DROP_HEADER]
                entry.status = status
                if entry.state_changed and self.drop_after_change():
                    entry.dropped = True
                    message = dict(message)
                    message["headers"] = [*headers, (DROP_HEADER, b"1")]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    entry.body_sha256 = _body_digest(chunks_in, size)
                    if status < 500:  # the endpoint's answer: kept before it is sent
                        fingerprint = (entry.method, entry.path, entry.body_sha256)
                        kept = _Kept(fingerprint, status, headers, b"".join(chunks))
                        self._keep(request_id, kept)
                    finish()
            await send(message)

        token = _current.set(entry)
        try:
            await app(scope, hashing_receive, keeping_send)
        finally:
            _current.reset(token)


def _body_digest(chunks: list[bytes], size: int) -> str:
    """SHA-256 of a body: of its JSON written canonically (sorted keys, no spaces) when it is
    JSON, so the same call encoded by another JSON writer is the same call; else of its bytes."""
    raw = b"".join(chunks)
    if size > MAX_BODY_BYTES:
        return "too-large:" + hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw, parse_float=Decimal) if raw.strip() else None
    except (ValueError, RecursionError):
        return hashlib.sha256(raw).hexdigest()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _nothing_more() -> Message:
    return {"type": "http.disconnect"}


def _capturing(send: Send, entry: LogEntry, finish: Callable[[], None]) -> Send:
    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            entry.status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            finish()
        await send(message)

    return capture


async def _send_kept(send: Send, kept: _Kept) -> None:
    await send({"type": "http.response.start", "status": kept.status, "headers": kept.headers})
    await send({"type": "http.response.body", "body": kept.body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text = value.decode("latin-1").strip()
            return text or None
    return None


def drop_connection_wrapper(app: ASGIApp) -> ASGIApp:
    """The outermost layer under uvicorn: a response marked with `DROP_HEADER` is never sent;
    the connection is closed instead (the change was applied, the reply is lost)."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        dropped = False

        async def dropping_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            if message["type"] == "http.response.start" and any(
                k == DROP_HEADER for k, _ in message.get("headers", [])
            ):
                dropped = True
                transport = getattr(getattr(send, "__self__", None), "transport", None)
                if transport is not None:
                    transport.abort()
                    await asyncio.sleep(0)  # let the server see the connection lost
                    return
                raise ConnectionAbortedError("sandbox: dropping the connection after a change")
            await send(message)

        await app(scope, receive, dropping_send)

    return wrapper


class JournalMiddleware:
    """`Journal.middleware` as the class Starlette's `add_middleware` wants."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self._call = journal.middleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._call(scope, receive, send)
