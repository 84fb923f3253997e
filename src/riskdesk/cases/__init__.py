"""Cases: what a person must look at about a customer, kept until closed with a resolution.

The first kind is `collections_review` (a collections stage's `open_case: review`, e.g. the
standard policy's write-off review). Fraud investigations, disputes and billing tickets are
to join it.
"""

from riskdesk.cases.store import CaseStateError, close_case, list_cases, open_case

__all__ = ["CaseStateError", "close_case", "list_cases", "open_case"]
