"""The clock the use cases read "now" and "today" from (a fixed one in tests, never a patch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    moment: datetime

    def __post_init__(self) -> None:
        if self.moment.tzinfo is None:
            raise ValueError(f"naive datetime {self.moment!r}: riskdesk's clock is aware UTC")

    @classmethod
    def on(cls, day: date | str) -> FixedClock:
        """Noon UTC of `day`."""
        value = date.fromisoformat(day) if isinstance(day, str) else day
        return cls(datetime(value.year, value.month, value.day, 12, tzinfo=UTC))

    def now(self) -> datetime:
        return self.moment


def today(clock: Clock) -> date:
    return clock.now().astimezone(UTC).date()
