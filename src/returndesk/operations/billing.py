"""A client's monthly statement, built from the events the platform recorded (decision 0016):

- return_processed: each package received for one of the merchant's returns (its receipt);
- label: each carrier label issued (voided ones too: the label was made); drop-off codes are
  not labels;
- inspection: each unit inspected;
- disposition_<option>: each unit dispositioned, priced by the option chosen;
- storage_day: each package held, per day: the merchant's local days from the day of its
  receipt up to (not including) the day its last unit was dispositioned (the return left the
  returns stock), or the return completed, whichever came first; days in the month only, so a
  package held across a month end is billed in both months without a day twice.

The month is the merchant's calendar month in its time zone. A fee without a rate in the
schedule is not billed; a statement with no schedule has no lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import DateTimeField, Q
from django.db.models.functions import Coalesce
from django_scopes import scopes_disabled

from returndesk.core.codes import format_ran
from returndesk.core.errors import ValidationFailed
from returndesk.operations.documents import Statement, StatementLine
from returndesk.operations.models import (
    DISPOSITION_FEE_PREFIX,
    FEE_INSPECTION,
    FEE_LABEL,
    FEE_RETURN,
    FEE_STORAGE,
    FEES,
    FeeRate,
)
from returndesk.operations.selectors import DISPOSITIONED_EVENT, first_event_time
from returndesk.returns.models import COMPLETED
from returndesk.shipping.models import MODE_LABEL, Label
from returndesk.tenants.models import Merchant, Provider
from returndesk.warehouse.models import Disposition, Inspection, Receipt

PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(text: str) -> tuple[int, int]:
    """ "2026-11" -> (2026, 11); anything else is a 422 on `period`."""
    found = PERIOD.match(text.strip())
    if found:
        year, month = int(found[1]), int(found[2])
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return year, month
    raise ValidationFailed.on("period", "a month like 2026-11")


def month_bounds(year: int, month: int, tz: str) -> tuple[date, date, datetime, datetime]:
    """The month's first day, the next month's first day, and both as local midnights."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    zone = ZoneInfo(tz)
    return (
        first,
        following,
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(following, time(0), tzinfo=zone),
    )


Event = tuple[str, str, datetime, str, str, str]  # fee, reference, at, ran, facility, what


def _events(
    merchant: Merchant, start: datetime, end: datetime, rates: dict[str, FeeRate]
) -> Iterator[Event]:
    """Each event of the month that has a rate: receipts, labels, inspections, dispositions."""

    def during(field: str) -> dict[str, datetime]:
        return {f"{field}__gte": start, f"{field}__lt": end}

    if FEE_RETURN in rates:
        for ref, at, ran, facility in (
            Receipt.objects.filter(merchant=merchant, **during("received_at"))
            .order_by("received_at", "pk")
            .values_list("public_id", "received_at", "return_request__ran", "facility__code")
        ):
            yield FEE_RETURN, ref, at, ran, facility, "Return received"
    if FEE_LABEL in rates:
        for ref, at, ran, facility, carrier, status in (
            Label.objects.filter(merchant=merchant, kind=MODE_LABEL, **during("created_at"))
            .order_by("created_at", "pk")
            .values_list(
                "public_id",
                "created_at",
                "return_request__ran",
                "facility__code",
                "carrier",
                "status",
            )
        ):
            what = f"Label, {carrier}" if carrier else "Label"
            yield (
                FEE_LABEL,
                ref,
                at,
                ran,
                facility,
                what if status == "active" else f"{what} (voided)",
            )
    if FEE_INSPECTION in rates:
        for ref, at, ran, facility, sku, unit in (
            Inspection.objects.filter(merchant=merchant, **during("inspected_at"))
            .order_by("inspected_at", "pk")
            .values_list(
                "public_id", "inspected_at", "return_request__ran", "facility__code", "sku", "unit"
            )
        ):
            yield FEE_INSPECTION, ref, at, ran, facility, f"Inspection, {sku} unit {unit}"
    options = [
        fee.removeprefix(DISPOSITION_FEE_PREFIX)
        for fee in rates
        if fee.startswith(DISPOSITION_FEE_PREFIX)
    ]
    if not options:
        return
    for ref, at, ran, facility, sku, option, lpn in (
        Disposition.objects.filter(merchant=merchant, option__in=options, **during("decided_at"))
        .order_by("decided_at", "pk")
        .values_list(
            "public_id",
            "decided_at",
            "return_request__ran",
            "facility__code",
            "sku",
            "option",
            "lpn",
        )
    ):
        what = f"{option.replace('_', ' ').capitalize()}, {sku} ({lpn})"
        yield f"{DISPOSITION_FEE_PREFIX}{option}", ref, at, ran, facility, what


def statement_build(*, merchant: Merchant, period: str) -> Statement:
    """The merchant's statement for a month (YYYY-MM), in six queries whatever the volume."""
    year, month = parse_period(period)
    zone = ZoneInfo(merchant.timezone)
    first, following, start, end = month_bounds(year, month, merchant.timezone)
    with scopes_disabled():
        rates = {rate.fee: rate for rate in FeeRate.objects.filter(merchant=merchant, amount__gt=0)}
        currency = next(iter(rates.values())).currency if rates else merchant.currency
        lines = [
            StatementLine(
                at.astimezone(zone), fee, what, format_ran(ran), ref, facility, 1, rates[fee].amount
            )
            for fee, ref, at, ran, facility, what in _events(merchant, start, end, rates)
        ]
        if FEE_STORAGE in rates:
            left = Coalesce(
                first_event_time(type=DISPOSITIONED_EVENT),
                first_event_time(status=COMPLETED),
                output_field=DateTimeField(),
            )
            held = (
                Receipt.objects.filter(merchant=merchant, received_at__lt=end)
                .annotate(left=left)
                .filter(Q(left__isnull=True) | Q(left__gte=start))
                .order_by("received_at", "pk")
                .values_list(
                    "public_id", "received_at", "left", "return_request__ran", "facility__code"
                )
            )
            for ref, received, gone, ran, facility in held:
                since = max(received.astimezone(zone).date(), first)
                until = min(gone.astimezone(zone).date(), following) if gone else following
                days = (until - since).days
                if days <= 0:
                    continue
                last = until - timedelta(days=1)
                lines.append(
                    StatementLine(
                        datetime.combine(since, time(0), tzinfo=zone),
                        FEE_STORAGE,
                        f"Storage {since.isoformat()} to {last.isoformat()}",
                        format_ran(ran),
                        ref,
                        facility,
                        days,
                        rates[FEE_STORAGE].amount,
                    )
                )
    lines.sort(key=lambda line: (line.at, FEES.index(line.fee), line.reference))
    return Statement(
        provider=Provider.current().name,
        merchant_slug=merchant.slug,
        merchant_name=merchant.name,
        period=f"{year:04d}-{month:02d}",
        timezone=merchant.timezone,
        currency=currency,
        lines=tuple(lines),
        fee_order=FEES,
    )
