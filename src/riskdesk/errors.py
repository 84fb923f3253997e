"""One tree of errors a user can cause, each saying what and where.

    RiskdeskError
     ├── ConfigError          a setting is missing or wrong
     ├── NotFoundError        an unknown customer, invoice, subscription ...
     └── ImportFileError      a file cannot be imported (see riskdesk.imports.errors)

The CLI prints the message of any RiskdeskError on one line and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class RiskdeskError(Exception):
    """An error caused by input or configuration, with a message fit to show a user."""


class ConfigError(RiskdeskError):
    pass


class NotFoundError(RiskdeskError):
    pass
