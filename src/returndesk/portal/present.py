"""How the portal writes figures and dates for a shopper: in the merchant's locale and time zone,
with the words for the policy's codes. No business rules: the services decide, this only says."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from returndesk.core.localize import day_text, moment_text, money_text
from returndesk.tenants.models import Merchant

RESOLUTION_TEXT = {
    "refund": gettext_lazy("Refund"),
    "store_credit": gettext_lazy("Store credit"),
    "exchange": gettext_lazy("Exchange"),
}
# When the money comes, by the decision's refund timing.
TIMING_TEXT = {
    "authorization": gettext_lazy("as soon as your return is approved"),
    "first_scan": gettext_lazy("as soon as the carrier scans your parcel"),
    "delivery": gettext_lazy("when your parcel is delivered to our returns centre"),
    "receipt": gettext_lazy("when your parcel arrives at our returns centre"),
    "inspection": gettext_lazy("after we have received and checked your items"),
}
FEE_TEXT = {
    "restocking_fee": gettext_lazy("Restocking fee"),
    "return_shipping_fee": gettext_lazy("Return shipping"),
}
# Clauses that stop a line, and those worth telling before the shopper chooses a reason (the
# fee clauses depend on the reason, so they wait for the figures).
BLOCKING_CLAUSES = frozenset({"final_sale", "not_returnable", "window_expired", "already_returned"})
ITEM_NOTE_CLAUSES = frozenset(
    {"return_window", "statutory_minimum", "seasonal_extension", "quantity_reduced"}
)


_WINDOW_EXPIRED = re.compile(r"^The (.+) window ended on ")


def money(merchant: Merchant, amount: int, currency: str) -> str:
    """Minor units as the merchant's locale writes them: 2721, "USD" -> $27.21."""
    return money_text(amount, currency, locale=merchant.locale)


def day(merchant: Merchant, instant: datetime) -> str:
    """The local date in the merchant's time zone, written the locale's long way."""
    return day_text(instant, tz=merchant.timezone, locale=merchant.locale)


def moment(merchant: Merchant, instant: datetime) -> str:
    return moment_text(instant, tz=merchant.timezone, locale=merchant.locale)


def clause_text(merchant: Merchant, clause: dict[str, Any], window_ends_at: str | None) -> str:
    """A clause's shopper message, through the catalogue when it has a translation. The window
    clauses are written again with the date in the merchant's locale (the engine writes
    "3 March 2026" whatever the locale)."""
    message = str(clause.get("shopper_message", ""))
    if window_ends_at and clause.get("code") in ("return_window", "window_expired"):
        date = day(merchant, datetime.fromisoformat(window_ends_at))
        if clause["code"] == "return_window":
            return gettext("You can return this item until %(date)s") % {"date": date}
        window = _WINDOW_EXPIRED.match(message)
        if window:
            return gettext("The %(window)s window ended on %(date)s") % {
                "window": window.group(1),
                "date": date,
            }
    return gettext(message) if message else ""


def timing(code: str) -> str:
    return str(TIMING_TEXT.get(code, TIMING_TEXT["inspection"]))
