"""Field types for the API's request shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def _in_utc(value: datetime) -> datetime:
    """An aware time as UTC (PostgreSQL refuses offsets past 15:59, which ISO 8601 allows), a
    naive one as it is; a time that leaves the calendar once in UTC is refused."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


UtcDateTime = Annotated[datetime, AfterValidator(_in_utc)]
