"""Business days of a facility: pure, no Django (docs/decisions/0016-provider-operations.md).

A facility works every day except its weekend (Saturday and Sunday), its country's public
holidays (the `holidays` package) and the days it closed itself. Days are the facility's local
calendar days, in its time zone.

An SLA of N business days from a moment `start` counts the business days strictly after the
local day of `start`, and is due at the end of the Nth of them: local midnight after it. So a
package received on a Friday afternoon with "inspect within 2 business days" is due at the end
of Tuesday, and so is one received on the Saturday. `business_days_between(start, end)` counts
the business days after start's day that had ended by `end`, so that
`business_days_between(start, due(start, n)) == n`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

SATURDAY, SUNDAY = 5, 6
WEEKEND = frozenset({SATURDAY, SUNDAY})
# An SLA longer than this many business days is refused, which also bounds every search below.
MAX_BUSINESS_DAYS = 60


class CalendarError(ValueError):
    """A request the calendar cannot answer (a negative or huge number of days, a naive time)."""


@lru_cache(maxsize=64)
def _country_holidays(country: str) -> holidays.HolidayBase | None:
    """The `holidays` package's calendar for a country (years fill in as they are asked for);
    None for a country it does not know, which then has weekends only."""
    if not country:
        return None
    try:
        return holidays.country_holidays(country.upper())
    except NotImplementedError:
        return None


def public_holiday(country: str, day: date) -> str | None:
    """The name of the country's public holiday on `day`, or None."""
    calendar = _country_holidays(country)
    if calendar is None:
        return None
    name = calendar.get(day)
    return str(name) if name else None


def public_holidays(country: str, start: date, end: date) -> list[tuple[date, str]]:
    """The country's public holidays from `start` to `end` inclusive, in date order."""
    found = []
    day = start
    while day <= end:
        name = public_holiday(country, day)
        if name:
            found.append((day, name))
        day += timedelta(days=1)
    return found


def country_known(country: str) -> bool:
    return _country_holidays(country) is not None


@dataclass(frozen=True)
class BusinessCalendar:
    """One facility's working days. `closed_days` are the facility's own (local dates)."""

    timezone: str = "UTC"
    country: str = ""
    closed_days: frozenset[date] = field(default_factory=frozenset)
    weekend: frozenset[int] = WEEKEND

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def closed_reason(self, day: date) -> str | None:
        """Why the facility does not work on `day` (weekend, holiday, its own closure), or None
        on a business day."""
        if day.weekday() in self.weekend:
            return "weekend"
        if day in self.closed_days:
            return "closed"
        holiday = public_holiday(self.country, day)
        if holiday:
            return f"holiday: {holiday}"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.closed_reason(day) is None

    def local_day(self, moment: datetime) -> date:
        if moment.tzinfo is None:
            raise CalendarError("a moment needs its time zone")
        return moment.astimezone(self.zone).date()

    def start_of(self, day: date) -> datetime:
        """Local midnight at the start of `day`, in UTC."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """The end of the local day `day`: the next local midnight, in UTC."""
        return self.start_of(day + timedelta(days=1))

    def add_business_days(self, day: date, count: int) -> date:
        """The `count`th business day after `day` (`day` itself never counts)."""
        if count < 1 or count > MAX_BUSINESS_DAYS:
            raise CalendarError(f"between 1 and {MAX_BUSINESS_DAYS} business days")
        found = 0
        # No calendar closes for a year: a facility closed that long has no due dates.
        for _ in range(366 + 7 * MAX_BUSINESS_DAYS):
            day += timedelta(days=1)
            if self.is_business_day(day):
                found += 1
                if found == count:
                    return day
        raise CalendarError("no business days within a year")

    def due(self, start: datetime, business_days: int) -> datetime:
        """When something started at `start` is due with `business_days` business days: the
        end of the Nth business day after start's local day (in UTC)."""
        return self.end_of(self.add_business_days(self.local_day(start), business_days))

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """The business days after start's local day that had ended by `end` (0 when `end`
        is not later)."""
        first = self.local_day(start) + timedelta(days=1)
        last = self.local_day(end) - timedelta(days=1)  # the last day that had fully ended
        count = 0
        day = first
        while day <= last:
            if self.is_business_day(day):
                count += 1
            day += timedelta(days=1)
        return count

    def closed_between(self, start: date, end: date) -> Iterable[tuple[date, str]]:
        """Every non-business day from `start` to `end` inclusive, with the reason."""
        day = start
        while day <= end:
            reason = self.closed_reason(day)
            if reason:
                yield day, reason
            day += timedelta(days=1)
