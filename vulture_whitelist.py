"""Names vulture reports as unused that are kept on purpose, each with its reason.

`make lint` passes this file to vulture with `src`. Add a name here only with a one-line
reason; delete code nothing needs instead.
"""

from riskdesk.actions import outbox
from riskdesk.imports import samples

# The one-row enqueue (a person's or a future decider's action, and every test that builds an
# outbox row); the planners write in bulk through `enqueue_many`, with the same keys and checks.
outbox.enqueue  # noqa: B018

# Used by bench/ (outside vulture's `src`) and the import tests; documented in docs/imports.md.
samples.write_pc_usage_csv  # noqa: B018
