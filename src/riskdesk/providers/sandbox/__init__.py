"""A local Partner-Center-compatible HTTP server: same paths and JSON, its own state, faults.

    from riskdesk.providers.sandbox import Faults, sample_state, start_sandbox

    with start_sandbox(sample_state(seed=1), faults=Faults(throttle_rate=0.1, seed=3)) as sb:
        ...  # point the Partner Center client at sb.base_url with token sb.token

Modules: `state` (SandboxState, persistence), `resources` (customer, subscription and
fraud-event builders), `sample` (a small deterministic state), `app` (the FastAPI
application: front door, error handlers), `routes_*` (the routes, one module per resource),
`wire` (response bodies, error codes), `inputs` (query, body, paging), `faults` (throttling,
5xx, latency), `paging` (continuation tokens), `server` (background thread, foreground
`serve`). Seeding from a riskdesk book is the demo's
(`riskdesk.demo.sandbox_seed`); this package imports no book-seeding code.
"""

from riskdesk.providers.sandbox.app import create_app
from riskdesk.providers.sandbox.faults import Faults
from riskdesk.providers.sandbox.sample import sample_state
from riskdesk.providers.sandbox.server import (
    DEFAULT_TOKEN,
    SandboxServer,
    run_sandbox,
    serve,
    start_sandbox,
)
from riskdesk.providers.sandbox.state import SandboxState, SandboxStateError, UsageRow

__all__ = [
    "DEFAULT_TOKEN",
    "Faults",
    "SandboxServer",
    "SandboxState",
    "SandboxStateError",
    "UsageRow",
    "create_app",
    "run_sandbox",
    "sample_state",
    "serve",
    "start_sandbox",
]
