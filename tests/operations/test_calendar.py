"""The business calendar (operations/calendar.py): pure, checked with known dates across a
holiday and a weekend in the facility's time zone, and with hypothesis for the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.operations.calendar import BusinessCalendar, CalendarError, public_holiday

NEWARK = BusinessCalendar(timezone="America/New_York", country="US")


def test_thanksgiving_and_the_weekend_are_skipped_in_the_facilitys_time_zone() -> None:
    # Wednesday 26 November 2025, 20:30 in Newark is already Thursday (Thanksgiving) in UTC.
    received = datetime(2025, 11, 27, 1, 30, tzinfo=UTC)
    assert public_holiday("US", date(2025, 11, 27)) == "Thanksgiving Day"
    # Business days after Wednesday: Thursday is a holiday, Friday (1), the weekend, Monday (2):
    # due at the end of Monday 1 December, midnight in Newark = 05:00 UTC.
    assert NEWARK.due(received, 2) == datetime(2025, 12, 2, 5, 0, tzinfo=UTC)
    # In UTC the same moment is Thursday: Friday (1), Monday (2), the same due day by chance of
    # the holiday; with one day the zone decides: Friday in Newark.
    assert NEWARK.due(received, 1) == datetime(2025, 11, 29, 5, 0, tzinfo=UTC)
    utc = BusinessCalendar(timezone="UTC", country="US")
    assert utc.due(received, 1) == datetime(2025, 11, 29, 0, 0, tzinfo=UTC)


def test_a_facilitys_own_closed_day_counts_like_a_holiday() -> None:
    received = datetime(2025, 11, 27, 1, 30, tzinfo=UTC)  # Wednesday evening in Newark
    closed = BusinessCalendar(
        timezone="America/New_York", country="US", closed_days=frozenset({date(2025, 11, 28)})
    )
    # Thursday holiday, Friday closed, weekend, Monday (1), Tuesday (2)
    assert closed.due(received, 2) == datetime(2025, 12, 3, 5, 0, tzinfo=UTC)
    assert closed.closed_reason(date(2025, 11, 28)) == "closed"
    assert closed.closed_reason(date(2025, 11, 29)) == "weekend"
    assert closed.closed_reason(date(2025, 11, 27)) == "holiday: Thanksgiving Day"
    assert closed.closed_reason(date(2025, 12, 1)) is None


def test_a_start_on_a_weekend_counts_from_the_next_business_day() -> None:
    friday = datetime(2025, 12, 5, 15, 0, tzinfo=UTC)
    saturday = datetime(2025, 12, 6, 15, 0, tzinfo=UTC)
    assert NEWARK.due(friday, 2) == NEWARK.due(saturday, 2)  # the end of Tuesday 9 December
    assert NEWARK.due(friday, 2) == datetime(2025, 12, 10, 5, 0, tzinfo=UTC)


def test_across_the_end_of_daylight_saving_time() -> None:
    # Friday 31 October 2025 in Newark; summer time ends on Sunday 2 November.
    received = datetime(2025, 10, 31, 14, 0, tzinfo=UTC)
    # Monday 3 November (1): midnight after it is 05:00 UTC (EST), not 04:00 (EDT).
    assert NEWARK.due(received, 1) == datetime(2025, 11, 4, 5, 0, tzinfo=UTC)


def test_a_country_the_holidays_package_does_not_know_has_weekends_only() -> None:
    nowhere = BusinessCalendar(timezone="UTC", country="ZZ")
    christmas = datetime(2025, 12, 24, 12, 0, tzinfo=UTC)
    assert nowhere.due(christmas, 1) == datetime(2025, 12, 26, 0, 0, tzinfo=UTC)
    assert NEWARK.due(christmas, 1) == datetime(2025, 12, 27, 5, 0, tzinfo=UTC)


def test_the_count_of_days_must_be_reasonable_and_moments_aware() -> None:
    with pytest.raises(CalendarError):
        NEWARK.due(datetime(2025, 1, 1, tzinfo=UTC), 0)
    with pytest.raises(CalendarError):
        NEWARK.due(datetime(2025, 1, 1, tzinfo=UTC), 61)
    with pytest.raises(CalendarError):
        NEWARK.due(datetime(2025, 1, 1), 1)


ZONES = st.sampled_from(
    ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]
)
COUNTRIES = st.sampled_from(["US", "GB", "DE", "FR", "AU", "ZZ", ""])
MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
CLOSED = st.frozensets(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2031, 6, 30)), max_size=40
)


def calendars() -> st.SearchStrategy[BusinessCalendar]:
    return st.builds(BusinessCalendar, timezone=ZONES, country=COUNTRIES, closed_days=CLOSED)


@given(calendars(), MOMENTS, st.integers(min_value=1, max_value=30))
def test_adding_n_business_days_then_counting_gives_n(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    due = calendar.due(start, days)
    assert calendar.business_days_between(start, due) == days
    # a moment before the due date has one day fewer behind it
    assert calendar.business_days_between(start, due - timedelta(microseconds=1)) == days - 1


@given(calendars(), MOMENTS, st.integers(min_value=1, max_value=30))
def test_the_due_day_is_a_business_day_and_every_day_skipped_is_not(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    due = calendar.due(start, days)
    last = calendar.local_day(due - timedelta(microseconds=1))
    assert calendar.is_business_day(last)
    assert last.weekday() < 5
    assert last not in calendar.closed_days
    assert public_holiday(calendar.country, last) is None
    day = calendar.local_day(start) + timedelta(days=1)
    counted = 0
    while day <= last:
        if calendar.is_business_day(day):
            counted += 1
        else:
            assert (
                day.weekday() >= 5
                or day in calendar.closed_days
                or public_holiday(calendar.country, day) is not None
            )
        day += timedelta(days=1)
    assert counted == days
    # due at a local midnight
    local_due = due.astimezone(calendar.zone)
    assert (local_due.hour, local_due.minute) in {(0, 0), (1, 0)}  # 01:00 where 00:00 is skipped


@given(calendars(), MOMENTS, st.integers(min_value=1, max_value=29))
def test_one_more_business_day_is_later(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    assert calendar.due(start, days + 1) > calendar.due(start, days)
