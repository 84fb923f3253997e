"""Running the sandbox: in a background thread for tests, in the foreground for the CLI."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn

from riskdesk.providers.sandbox.app import create_app
from riskdesk.providers.sandbox.faults import Faults
from riskdesk.providers.sandbox.journal import Journal, RequestLog, drop_connection_wrapper
from riskdesk.providers.sandbox.sample import sample_state
from riskdesk.providers.sandbox.state import SandboxState

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - a well-known token for a local test server


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _uvicorn_server(
    state: SandboxState, token: str, faults: Faults | None, log_level: str, journal: Journal
) -> uvicorn.Server:
    app = create_app(state, token=token, faults=faults or Faults(), journal=journal)
    config = uvicorn.Config(
        drop_connection_wrapper(app),
        log_level=log_level,
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class SandboxServer:
    """A sandbox running in a background thread on a free loopback port.

    Use as a context manager, or call `stop()`. `base_url` (no trailing slash) and `token`
    are what a client needs; `state` is the live state (read it to check what a client did),
    `request_log` every request it answered (`journal.RequestLog`).
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        token: str = DEFAULT_TOKEN,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        request_log: RequestLog | None = None,
    ) -> None:
        self.state = state
        self.token = token
        self.faults = faults or Faults()
        self.journal = Journal(request_log)
        self.request_log = self.journal.log
        self._socket = _bind(host, port)
        self.base_url = _base_url(self._socket)
        self._server = _uvicorn_server(state, token, self.faults, log_level, self.journal)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="riskdesk-sandbox", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start within {timeout} s")
            time.sleep(0.01)
        host, port = self._socket.getsockname()[:2]
        with socket.create_connection((host, port), timeout=timeout):
            pass  # accepts connections
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    state: SandboxState,
    *,
    token: str = DEFAULT_TOKEN,
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    request_log: RequestLog | None = None,
) -> SandboxServer:
    """Start a sandbox in a background thread and wait until it accepts connections.

    `port=0` picks a free port. Stop it with `stop()` or use it as a context manager::

        with start_sandbox(sample_state(seed=1)) as sandbox:
            httpx.get(sandbox.base_url + "/v1/customers",
                      headers={"Authorization": f"Bearer {sandbox.token}"})
    """
    return SandboxServer(
        state, token=token, faults=faults, host=host, port=port, request_log=request_log
    ).start()


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: SandboxState | None = None,
    token: str = DEFAULT_TOKEN,
    faults: Faults | None = None,
    announce: bool = True,
    request_log: Path | None = None,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C / SIGTERM).

    The base URL and token are printed to stderr once the port is bound. With `request_log`,
    every request is appended to that file as one JSON line (`journal.LogEntry`).
    """
    state = state if state is not None else SandboxState()
    sock = _bind(host, port)
    journal = Journal(RequestLog(Path(request_log)) if request_log is not None else None)
    server = _uvicorn_server(state, token, faults, "warning", journal)
    if announce:
        # The well-known default token is shown; one the operator chose is not echoed.
        shown = token if token == DEFAULT_TOKEN else "(the one given)"
        print(f"sandbox: {_base_url(sock)}  token: {shown}", file=sys.stderr, flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        state.save()


def serve(
    port: int,
    state_file: Path | None,
    throttle_rate: float,
    error_rate: float,
    latency_ms: int,
    token: str,
    *,
    seed_state: Callable[[], SandboxState] | None = None,
    host: str = "127.0.0.1",
    seed: int | None = None,
    drop_rate: float = 0.0,
    request_log: Path | None = None,
    retry_after_max_s: int = 1,
) -> None:
    """The `riskdesk sandbox` command: serve until Ctrl-C, printing base URL and token.

    The state comes from `state_file` when it exists; otherwise from `seed_state()` (the
    caller's, e.g. the demo's seeding from a book) or, without one, from `sample_state()`.
    With `state_file`, every change is saved to it (atomically), so a restart continues where
    the last run stopped.
    """
    if state_file is not None and Path(state_file).exists():
        state = SandboxState.load(Path(state_file))
    else:
        state = seed_state() if seed_state is not None else sample_state(seed=seed or 0)
        state.path = Path(state_file) if state_file is not None else None
        state.save()
    faults = Faults(
        throttle_rate=throttle_rate,
        error_rate=error_rate,
        latency_ms=latency_ms,
        seed=seed,
        drop_rate=drop_rate,
        retry_after_max_s=retry_after_max_s,
    )
    run_sandbox(host, port, state=state, token=token, faults=faults, request_log=request_log)
