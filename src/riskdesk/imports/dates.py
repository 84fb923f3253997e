"""Calendar days in imported files: the one format of the reseller's files and the one range.

The reseller's files give days as ISO `YYYY-MM-DD`, exactly: four digits, a hyphen, two, a
hyphen, two (Python's `date.fromisoformat` also takes `20261001`, `2026-W40-1` and
`0001-01-01`; none of them is a day of a reseller's book). Every imported day, the Partner
Center exports' too (`vec.parse_dates`), lies in 2000-01-01 .. 2099-12-31: older or later
days are typing mistakes (`0026-10-01`, `2226-10-01`), and no cloud subscription, invoice,
payment or usage line of a book riskdesk keeps is dated outside it.
"""

from __future__ import annotations

import re
from datetime import date

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date | str:
    """The day `text` names (exactly YYYY-MM-DD, within EARLIEST..LATEST), or why not."""
    if _ISO_DAY.fullmatch(text) is None:
        return f"not a date: {text!r} (expected YYYY-MM-DD)"
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return f"not a date: {text!r} (no such day)"
    if not EARLIEST <= day <= LATEST:
        return f"date {text} is outside {EARLIEST.isoformat()} .. {LATEST.isoformat()}"
    return day
