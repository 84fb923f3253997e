"""`python -m riskdesk` is the `riskdesk` command."""

from riskdesk.cli import main

main()
