"""Fault injection for the sandbox: throttling (429), server errors (5xx), latency, and the
connection dropped after a change was applied, before the reply.

Every request draws from one seeded random generator, so a sandbox started with the same
seed and sent the same sequence of requests answers with the same faults. Faults are decided
before a request touches the state: a request answered with a fault changed nothing, so a
client may safely retry it (even a PATCH). A dropped connection is the other case: the change
was applied and the reply is lost; the client's retry under the same ``MS-RequestId`` is
answered from the kept response (`journal`) and changes nothing again.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or before) answering it."""

    kind: str  # "throttle" | "error" | "none"
    status: int = 200
    retry_after_s: int = 0
    latency_ms: int = 0


@dataclass
class Faults:
    """Probabilities of injected faults and a fixed added latency.

    * `throttle_rate`: share of requests answered 429 with a small `Retry-After` (0 or 1 s)
      and the `{statusCode, message}` body.
    * `error_rate`: share of requests answered 500 or 503 with `{code, description}`.
    * `latency_ms`: added to every request (faulted or not).
    * `drop_rate`: share of requests that changed the state whose connection is closed
      before the reply is sent.
    * `seed`: makes the sequence of faults repeatable.
    """

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: int = 0
    seed: int | None = None
    drop_rate: float = 0.0
    retry_after_max_s: int = 1
    _random: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {self.latency_ms}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self.throttle_rate or self.error_rate or self.latency_ms or self.drop_rate)

    def draw(self) -> Fault:
        """The fault for the next request (thread-safe, deterministic for a seed)."""
        with self._lock:
            throttle = self._random.random()
            error = self._random.random()
            retry_after = self._random.randint(0, max(0, self.retry_after_max_s))
            server_status = self._random.choice((500, 503))
        if throttle < self.throttle_rate:
            return Fault("throttle", 429, retry_after_s=retry_after, latency_ms=self.latency_ms)
        if error < self.error_rate:
            return Fault("error", server_status, latency_ms=self.latency_ms)
        return Fault("none", latency_ms=self.latency_ms)

    def draw_drop(self) -> bool:
        """Whether to drop the connection of a request that just changed the state."""
        if not self.drop_rate:
            return False
        with self._lock:
            return self._random.random() < self.drop_rate
