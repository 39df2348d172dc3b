"""Figures and dates written for a reader, in a merchant's locale and time zone (babel).

The portal's pages and the shopper e-mails both write through these, so a shopper reads the same
"$27.21" and "March 3, 2026" on the status page and in the e-mail about it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime

from returndesk.core.money import Money


def babel_locale(code: str) -> Locale:
    """The babel locale for a merchant's locale code ("de", "en-GB"); English when unknown."""
    try:
        return Locale.parse((code or "en").replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def money_text(amount: int, currency: str, *, locale: str) -> str:
    """Minor units as the locale writes them: 2721, "USD", "en" -> $27.21."""
    return Money(int(amount), currency).format(babel_locale(locale))


def day_text(instant: datetime, *, tz: str, locale: str) -> str:
    """The local date in time zone `tz`, written the locale's long way."""
    local = instant.astimezone(ZoneInfo(tz))
    return str(format_date(local.date(), format="long", locale=babel_locale(locale)))


def moment_text(instant: datetime, *, tz: str, locale: str) -> str:
    """The local date and time in time zone `tz`, the locale's medium way."""
    local = instant.astimezone(ZoneInfo(tz))
    return str(format_datetime(local, format="medium", locale=babel_locale(locale)))
