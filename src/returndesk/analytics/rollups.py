"""Building the daily rollups from the recorded rows, and keeping them fresh
(docs/decisions/0015-analytics.md, "Rollups" and "Freshness").

`rollups_rebuild(merchant, first, last)` recomputes days first..last of a merchant from scratch:
it deletes the rollup rows of those days and writes them again, a month per transaction, so a
rebuild can be repeated or interrupted at any point without leaving a wrong figure behind.

`analytics_refresh()` is the worker's periodic job. It finds what changed since its last run
from three cursors and rebuilds only the days those changes touch:

- return events, by id: every change to a return writes one (status moves, labels, receipts,
  inspections, dispositions, settlements, refunds, adjustments, exchanges), so the days of the
  returns they belong to, and the days their units were inspected, are rebuilt;
- store credit entries, by id: a redemption or expiry changes what was kept of the credit a
  return's refund issued, so that return's day is rebuilt;
- orders, by `updated_at`: the days they were placed are rebuilt (the importer and the API
  touch an order whenever its lines change).

A row is read again until it is `LAG` old, so a transaction that commits up to `LAG` after it
wrote its rows is not missed. A merchant never built is built in full; `analytics_rebuild_all`
(daily) rebuilds every merchant in full, which also catches what no cursor sees (rows changed in
bulk outside the services).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.analytics.models import (
    DailyFigure,
    InspectionDay,
    InspectionMonth,
    MonthFigure,
    ReturnDay,
    ReturnMonth,
    RollupCursor,
    RollupState,
    SkuDay,
    SkuMonth,
)
from returndesk.analytics.stats import duration_bucket
from returndesk.catalog.models import Order, OrderLine, Product
from returndesk.core.tenancy import merchant_scope
from returndesk.credit.models import ISSUE, StoreCreditEntry, StoreCreditLot, StoreCreditLotUse
from returndesk.refunds.models import (
    SUCCEEDED,
    Adjustment,
    Exchange,
    Refund,
    Settlement,
)
from returndesk.returns.models import (
    AUTHORIZED,
    IN_TRANSIT,
    INSPECTED,
    PENDING_REVIEW,
    REJECTED,
    RELEASED_STATUSES,
    Return,
    ReturnEvent,
    ReturnLine,
)
from returndesk.shipping.models import ACTIVE, Label
from returndesk.tenants.models import Merchant
from returndesk.warehouse.models import Disposition, Inspection, InspectionDefect, Receipt

logger = logging.getLogger(__name__)

LAG = timedelta(minutes=5)
SCAN_BATCH = 20_000
WRITE_BATCH = 2_000

# What each DailyFigure row holds (n, a, b, c, d); money in minor units. Every figure of a
# return is on the day the return was requested, except `sales` (the order's day).
FIGURES: dict[str, str] = {
    "sales": "key '': n order lines, a units, b value (unit price x units - line discount)",
    "returns": "key channel: n returns counted (not rejected, cancelled or expired), a value",
    "released": "key status (rejected, cancelled, expired): n returns",
    "processed": "key '': n returns received at a facility",
    "label": "key '': n active labels, a the merchant's cost, b the carrier's charge",
    "refund": "key status:method: n refunds, a amount, b store credit bonus",
    "store_credit": "key issued|redeemed|expired|reversed|adjusted|unspent: n lots, a amount "
    "(issued: b the bonus within it)",
    "exchange": "key status: n exchanges, a credit (value kept), b price, c difference",
    "fee": "key deduction code: n deductions, a amount",
    "disposition": "key option: n units, a net recovery, b original price, c CO2e avoided in "
    "grams, d gross recovery",
    "cycle": "key step:bucket (lower bound in seconds): n returns, a sum of seconds",
    "fraud": "key review|review_approved|review_rejected (n returns, a value) | contradicted "
    "(n returns, a deductions on them) | contradicted_reviewed (n) | signal:<name> (n)",
    "adjustment": "key status:cause: n adjustments, a amount",
}

# The steps of a return's cycle: (name, from, to) over the times gathered per return.
CYCLE_STEPS: tuple[tuple[str, str, str], ...] = (
    ("request_to_shipment", "requested", "shipped"),
    ("shipment_to_receipt", "shipped", "received"),
    ("receipt_to_inspection", "received", "inspected"),
    ("inspection_to_refund", "inspected", "refunded"),
    ("end_to_end", "requested", "refunded"),
)


# --- days and time zones -----------------------------------------------------------------------


def local_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants that start day `first` and end day `last` in the time zone."""
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges, in order."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def month_chunks(first: date, last: date) -> Iterator[tuple[date, date]]:
    """first..last cut at month ends."""
    start = first
    while start <= last:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = min(last, following - timedelta(days=1))
        yield start, end
        start = end + timedelta(days=1)


def _dicts(queryset: Any) -> Iterator[dict[str, Any]]:
    """The rows of a `.values()` query, typed as plain dicts."""
    yield from queryset


def _day(field_name: str, tz: ZoneInfo) -> TruncDate:
    return TruncDate(field_name, tzinfo=tz)


# --- building a range of days ------------------------------------------------------------------


@dataclass
class _Chunk:
    """The rollup rows of a range of days, gathered before they are written."""

    sku: dict[tuple[date, str], dict[str, int]] = field(default_factory=dict)
    returns: dict[tuple[date, str, str], list[int]] = field(default_factory=dict)
    inspections: dict[tuple[date, str], list[int]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)  # of the SKUs inspected
    figures: dict[tuple[date, str, str], list[int]] = field(default_factory=dict)

    def add(self, day: date, figure: str, key: str = "", *values: int) -> None:
        row = self.figures.setdefault((day, figure, key), [0, 0, 0, 0, 0])
        for i, value in enumerate(values):
            row[i] += int(value or 0)

    def sku_row(self, day: date, sku: str) -> dict[str, int]:
        return self.sku.setdefault((day, sku), defaultdict(int))


def rollups_rebuild(*, merchant: Merchant, first: date, last: date) -> int:
    """Recompute days first..last of the merchant's rollups; answers the days rebuilt."""
    days = 0
    with merchant_scope(merchant):
        for chunk_first, chunk_last in month_chunks(first, last):
            with transaction.atomic():
                state, _ = RollupState.objects.get_or_create(merchant=merchant)
                RollupState.objects.select_for_update().filter(pk=state.pk).first()
                _rebuild(merchant, chunk_first, chunk_last)
                count = (chunk_last - chunk_first).days + 1
                RollupState.objects.filter(pk=state.pk).update(
                    refreshed_at=timezone.now(), days_refreshed=F("days_refreshed") + count
                )
                days += count
    return days


def _rebuild(merchant: Merchant, first: date, last: date) -> None:
    tz = ZoneInfo(merchant.timezone)
    start, end = local_bounds(first, last, tz)
    chunk = _Chunk()
    _sales(chunk, merchant, tz, start, end)
    returns = Return.objects.filter(merchant=merchant, created_at__gte=start, created_at__lt=end)
    _return_lines(chunk, merchant, tz, returns)
    _return_facts(chunk, merchant, tz, returns)
    _money(chunk, merchant, tz, returns)
    _dispositions(chunk, merchant, tz, returns)
    _inspections(chunk, merchant, tz, start, end)
    _write(chunk, merchant, first, last)
    month_rollup(merchant, first.replace(day=1))


def _sales(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, start: datetime, end: datetime) -> None:
    value = ExpressionWrapper(
        F("unit_price_amount") * F("quantity") - F("discount_amount"),
        output_field=BigIntegerField(),
    )
    rows = (
        OrderLine.objects.filter(
            merchant=merchant,
            currency=merchant.currency,
            order__placed_at__gte=start,
            order__placed_at__lt=end,
        )
        .annotate(day=_day("order__placed_at", tz))
        .values("day", "sku")
        .annotate(lines=Count("id"), units=Sum("quantity"), value=Sum(value))
        .order_by()
    )
    for row in _dicts(rows):
        sku = chunk.sku_row(row["day"], row["sku"])
        sku["sold_lines"] += row["lines"]
        sku["sold_units"] += row["units"] or 0
        sku["sold_value"] += row["value"] or 0
        chunk.add(row["day"], "sales", "", row["lines"], row["units"], row["value"])


def _counted(returns: Any) -> Any:
    """Returns that hold their units: not new, rejected, cancelled or expired."""
    return returns.exclude(status="").exclude(status__in=RELEASED_STATUSES)


def _return_lines(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, returns: Any) -> None:
    lines = ReturnLine.objects.filter(
        return_request__in=_counted(returns), currency=merchant.currency
    ).annotate(day=_day("return_request__created_at", tz))
    totals = {"lines": Count("id"), "units": Sum("quantity"), "value": Sum("value_amount")}
    for row in _dicts(lines.values("day", "sku").annotate(**totals).order_by()):
        sku = chunk.sku_row(row["day"], row["sku"])
        sku["returned_lines"] += row["lines"]
        sku["returned_units"] += row["units"] or 0
        sku["returned_value"] += row["value"] or 0
    by_reason = lines.values("day", "reason", channel=F("return_request__channel"))
    for row in _dicts(by_reason.annotate(**totals).order_by()):
        key = (row["day"], row["reason"], row["channel"])
        chunk.returns[key] = [row["lines"], row["units"] or 0, row["value"] or 0]


@dataclass
class _ReturnFacts:
    day: date
    channel: str
    status: str
    times: dict[str, datetime] = field(default_factory=dict)
    value: int = 0
    reviewed: bool = False
    outcome: str = ""  # after review: authorized or rejected


def _return_facts(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, returns: Any) -> None:
    """Counts per channel, the cycle times, labels and processing, and the fraud figures:
    one pass over the returns of the range with what happened to each."""
    facts: dict[int, _ReturnFacts] = {}
    signals: dict[int, list[str]] = {}
    rows = (
        returns.exclude(status="")
        .annotate(day=_day("created_at", tz))
        .values_list("id", "day", "channel", "status", "created_at", "risk_reasons")
    )
    for pk, day, channel, status, created_at, reasons in rows.iterator(chunk_size=5_000):
        facts[pk] = _ReturnFacts(day, channel, status, {"requested": created_at})
        signals[pk] = [r.get("signal", "") for r in reasons or [] if isinstance(r, dict)]
    if not facts:
        return
    in_range = Q(return_request__in=returns)
    values = (
        ReturnLine.objects.filter(in_range, currency=merchant.currency)
        .values("return_request_id")
        .annotate(value=Sum("value_amount"))
        .order_by()
    )
    for row in _dicts(values):
        if row["return_request_id"] in facts:
            facts[row["return_request_id"]].value = row["value"] or 0
    events = (
        ReturnEvent.objects.filter(
            in_range, to_status__in=[IN_TRANSIT, INSPECTED, PENDING_REVIEW, AUTHORIZED, REJECTED]
        )
        .values("return_request_id", "from_status", "to_status")
        .annotate(first=Min("created_at"))
        .order_by()
    )
    for row in _dicts(events):
        fact = facts.get(row["return_request_id"])
        if fact is None:
            continue
        to_status, first = row["to_status"], row["first"]
        if to_status == IN_TRANSIT:
            fact.times["shipped"] = min(first, fact.times.get("shipped", first))
        elif to_status == INSPECTED:
            fact.times["inspected"] = min(first, fact.times.get("inspected", first))
        elif to_status == PENDING_REVIEW:
            fact.reviewed = True
        elif row["from_status"] == PENDING_REVIEW:
            fact.outcome = to_status
    receipts = Receipt.objects.filter(in_range).filter(
        Q(exception_kind="") | Q(exception_resolved_at__isnull=False)
    )
    for pk, received_at in receipts.values_list("return_request_id", "received_at"):
        if pk in facts:
            facts[pk].times["received"] = received_at
    refunded = (
        Refund.objects.filter(in_range, status=SUCCEEDED, succeeded_at__isnull=False)
        .values("return_request_id")
        .annotate(first=Min("succeeded_at"))
        .order_by()
    )
    for row in _dicts(refunded):
        if row["return_request_id"] in facts:
            facts[row["return_request_id"]].times["refunded"] = row["first"]
    contradicted = set(
        Inspection.objects.filter(in_range, contradicted=True)
        .values_list("return_request_id", flat=True)
        .order_by()  # not the model's ordering, which DISTINCT would take in
        .distinct()
    )
    labels = (
        Label.objects.filter(in_range, status=ACTIVE)
        .values("return_request_id", "cost_currency")
        .annotate(n=Count("id"), merchant_cost=Sum("merchant_cost_amount"), cost=Sum("cost_amount"))
        .order_by()
    )
    for row in _dicts(labels):
        fact = facts.get(row["return_request_id"])
        if fact is None or fact.status in RELEASED_STATUSES:
            continue
        same = row["cost_currency"] == merchant.currency
        chunk.add(
            fact.day,
            "label",
            "",
            row["n"],
            row["merchant_cost"] if same else 0,
            row["cost"] if same else 0,
        )
    deductions = _deductions_by_return(merchant, returns)
    for pk, fact in facts.items():
        released = fact.status in RELEASED_STATUSES
        if released:
            chunk.add(fact.day, "released", fact.status, 1)
        else:
            chunk.add(fact.day, "returns", fact.channel, 1, fact.value)
            if "received" in fact.times:
                chunk.add(fact.day, "processed", "", 1)
            for step, begin, finish in CYCLE_STEPS:
                if begin in fact.times and finish in fact.times:
                    seconds = int((fact.times[finish] - fact.times[begin]).total_seconds())
                    if seconds >= 0:
                        key = f"{step}:{duration_bucket(seconds)}"
                        chunk.add(fact.day, "cycle", key, 1, seconds)
        for signal in set(signals.get(pk, [])):
            if signal:
                chunk.add(fact.day, "fraud", f"signal:{signal}", 1)
        if fact.reviewed:
            chunk.add(fact.day, "fraud", "review", 1, fact.value)
            if fact.outcome == AUTHORIZED:
                chunk.add(fact.day, "fraud", "review_approved", 1, fact.value)
            elif fact.outcome == REJECTED:
                chunk.add(fact.day, "fraud", "review_rejected", 1, fact.value)
        if pk in contradicted:
            chunk.add(fact.day, "fraud", "contradicted", 1, deductions.get(pk, 0))
            if fact.reviewed:
                chunk.add(fact.day, "fraud", "contradicted_reviewed", 1)


def _settlement_deductions(calculation: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(code, amount) of every deduction of a settlement's calculation: the lines' and the
    return's (the return shipping fee)."""
    found = [d for line in calculation.get("lines", []) for d in line.get("deductions", [])]
    found += calculation.get("return_deductions", [])
    for deduction in found:
        amount = (deduction.get("amount") or {}).get("amount", 0)
        if amount:
            yield str(deduction.get("code", "")), int(amount)


def _deductions_by_return(merchant: Merchant, returns: Any) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    rows = Settlement.objects.filter(
        return_request__in=returns, currency=merchant.currency
    ).values_list("return_request_id", "calculation")
    for pk, calculation in rows.iterator(chunk_size=2_000):
        for _, amount in _settlement_deductions(calculation or {}):
            totals[pk] += amount
    return totals


def _money(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, returns: Any) -> None:
    """Refunds by status and method, store credit and what became of it, exchanges, fees
    (deductions) and adjustments, on the day of their return."""
    day = _day("return_request__created_at", tz)
    mine = Q(return_request__in=returns, currency=merchant.currency)
    refunds = (
        Refund.objects.filter(mine)
        .annotate(day=day)
        .values("day", "status", "method")
        .annotate(n=Count("id"), amount=Sum("amount"), bonus=Sum("bonus_amount"))
        .order_by()
    )
    for row in _dicts(refunds):
        key = f"{row['status']}:{row['method']}"
        chunk.add(row["day"], "refund", key, row["n"], row["amount"], row["bonus"])
    settlements = (
        Settlement.objects.filter(mine).annotate(day=day).values_list("day", "calculation")
    )
    for settled_day, calculation in settlements.iterator(chunk_size=2_000):
        for code, amount in _settlement_deductions(calculation or {}):
            chunk.add(settled_day, "fee", code, 1, amount)
    adjustments = (
        Adjustment.objects.filter(mine)
        .annotate(day=day)
        .values("day", "status", "cause")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    for row in _dicts(adjustments):
        key = f"{row['status']}:{row['cause']}"
        chunk.add(row["day"], "adjustment", key, row["n"], row["amount"])
    exchanges = (
        Exchange.objects.filter(mine)
        .annotate(day=day)
        .values("day", "status")
        .annotate(
            n=Count("id"),
            credit=Sum("credit_amount"),
            price=Sum("price_amount"),
            difference=Sum("difference_amount"),
        )
        .order_by()
    )
    for row in _dicts(exchanges):
        values = (row["n"], row["credit"], row["price"], row["difference"])
        chunk.add(row["day"], "exchange", row["status"], *values)
    _store_credit(chunk, merchant, tz, returns)


def _store_credit(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, returns: Any) -> None:
    """The store credit the returns' refunds issued (one lot each, keyed by the refund's public
    id), and what became of it: redeemed, expired, reversed or adjusted away, or unspent."""
    refunds = Refund.objects.filter(return_request__in=returns, kind="store_credit")
    day_of = dict(
        refunds.annotate(day=_day("return_request__created_at", tz)).values_list("public_id", "day")
    )
    if not day_of:
        return
    issued = StoreCreditEntry.objects.filter(
        kind=ISSUE, reference__in=refunds.values("public_id"), currency=merchant.currency
    )
    lots = StoreCreditLot.objects.filter(entry__in=issued).values_list(
        "entry__reference", "amount", "remaining_amount", "entry__bonus_amount"
    )
    for reference, amount, remaining, bonus in lots:
        lot_day = day_of[reference]
        chunk.add(lot_day, "store_credit", "issued", 1, amount, bonus)
        chunk.add(lot_day, "store_credit", "unspent", 1, remaining)
    uses = (
        StoreCreditLotUse.objects.filter(lot__entry__in=issued)
        .values("lot__entry__reference", "entry__kind")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    kinds = {"redeem": "redeemed", "expire": "expired", "reverse": "reversed"}
    for row in _dicts(uses):
        kind = kinds.get(row["entry__kind"], "adjusted")
        chunk.add(
            day_of[row["lot__entry__reference"]], "store_credit", kind, row["n"], row["amount"]
        )


def _grams(value: Any) -> int:
    """kg of CO2e as the disposition figures hold it (a JSON number or string) -> grams."""
    try:
        return int((Decimal(str(value)) * 1000).to_integral_value())
    except (InvalidOperation, ValueError):
        return 0


def _int(value: Any) -> int:
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0


def _dispositions(chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, returns: Any) -> None:
    """Units per disposition option, with what they recovered against what they were sold
    for, and the CO2e the option avoided; on the day of their return."""
    line = "inspection__receipt_line__return_line"
    original = Coalesce(
        F(f"{line}__order_line__unit_price_amount"),
        ExpressionWrapper(F(f"{line}__value_amount") / F(f"{line}__quantity"), BigIntegerField()),
    )
    rows = (
        Disposition.objects.filter(return_request__in=returns)
        .annotate(
            day=_day("return_request__created_at", tz),
            original=original,
            net=KT("figures__net_recovery"),
            gross=KT("figures__gross_recovery"),
            co2e=KT("figures__co2e_avoided_kg"),
        )
        .values_list("day", "option", "original", "net", "gross", "co2e")
    )
    for day, option, original_price, net, gross, co2e in rows.iterator(chunk_size=5_000):
        values = (1, _int(net), original_price or 0, _grams(co2e), _int(gross))
        chunk.add(day, "disposition", option, *values)


def _inspections(
    chunk: _Chunk, merchant: Merchant, tz: ZoneInfo, start: datetime, end: datetime
) -> None:
    """Units inspected per SKU and day, and those with a defect (on the day of inspection)."""
    when = {"merchant": merchant, "inspected_at__gte": start, "inspected_at__lt": end}
    inspected = (
        Inspection.objects.filter(**when)
        .annotate(day=_day("inspected_at", tz))
        .values("day", "sku")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in _dicts(inspected):
        chunk.inspections.setdefault((row["day"], row["sku"]), [0, 0, 0])[0] += row["n"]
    defects = (
        InspectionDefect.objects.filter(**when)
        .annotate(day=_day("inspected_at", tz))
        .values("day", "sku")
        .annotate(units=Count("inspection", distinct=True), n=Count("id"))
        .order_by()
    )
    for row in _dicts(defects):
        counts = chunk.inspections.setdefault((row["day"], row["sku"]), [0, 0, 0])
        counts[1] += row["units"]
        counts[2] += row["n"]
    inspected_skus = Inspection.objects.filter(**when).values("sku")
    chunk.categories = dict(
        Product.objects.filter(merchant=merchant, sku__in=inspected_skus).values_list(
            "sku", "category"
        )
    )


def _write(chunk: _Chunk, merchant: Merchant, first: date, last: date) -> None:
    for model in (SkuDay, ReturnDay, InspectionDay, DailyFigure):
        model.objects.filter(merchant=merchant, day__gte=first, day__lte=last).delete()
    m = merchant.pk
    SkuDay.objects.bulk_create(
        (
            SkuDay(merchant_id=m, day=day, sku=sku, **values)
            for (day, sku), values in chunk.sku.items()
        ),
        batch_size=WRITE_BATCH,
    )
    ReturnDay.objects.bulk_create(
        (
            ReturnDay(
                merchant_id=m, day=day, reason=reason, channel=channel, lines=n, units=u, value=v
            )
            for (day, reason, channel), (n, u, v) in chunk.returns.items()
        ),
        batch_size=WRITE_BATCH,
    )
    InspectionDay.objects.bulk_create(
        (
            InspectionDay(
                merchant_id=m,
                day=day,
                sku=sku,
                category=chunk.categories.get(sku, ""),
                inspected_units=n,
                defective_units=units,
                defects=defects,
            )
            for (day, sku), (n, units, defects) in chunk.inspections.items()
        ),
        batch_size=WRITE_BATCH,
    )
    DailyFigure.objects.bulk_create(
        (
            DailyFigure(merchant_id=m, day=day, figure=figure, key=key, n=n, a=a, b=b, c=c, d=d)
            for (day, figure, key), (n, a, b, c, d) in chunk.figures.items()
        ),
        batch_size=WRITE_BATCH,
    )


# The month tables: (day model, month model, what a row is keyed by, what is summed).
MONTHLY: tuple[tuple[Any, Any, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        SkuDay,
        SkuMonth,
        ("sku",),
        (
            "sold_lines",
            "sold_units",
            "sold_value",
            "returned_lines",
            "returned_units",
            "returned_value",
        ),
    ),
    (ReturnDay, ReturnMonth, ("reason", "channel"), ("lines", "units", "value")),
    (
        InspectionDay,
        InspectionMonth,
        ("sku", "category"),
        ("inspected_units", "defective_units", "defects"),
    ),
    (DailyFigure, MonthFigure, ("figure", "key"), ("n", "a", "b", "c", "d")),
)


def month_end(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return following - timedelta(days=1)


def month_rollup(merchant: Merchant, month: date) -> None:
    """Rewrite the month rows of `month` from its day rows (every rebuild of a day does), one
    INSERT ... SELECT per table so the day rows never travel to Python."""
    now = timezone.now()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for day_model, month_model, keys, sums in MONTHLY:
            month_model.objects.filter(merchant=merchant, month=month).delete()
            columns = ", ".join(
                quote(c) for c in ("merchant_id", "month", *keys, *sums, "created_at", "updated_at")
            )
            chosen = ", ".join([*map(quote, keys), *(f"SUM({quote(name)})" for name in sums)])
            grouped = ", ".join(map(quote, keys))
            # the names are the models' own; every value is a parameter
            sql = (
                f"INSERT INTO {quote(month_model._meta.db_table)} ({columns}) "  # noqa: S608
                f"SELECT %s, %s, {chosen}, %s, %s FROM {quote(day_model._meta.db_table)} "
                f"WHERE {quote('merchant_id')} = %s AND {quote('day')} >= %s "
                f"AND {quote('day')} <= %s GROUP BY {grouped}"
            )
            params: list[Any] = [merchant.pk, month, now, now, merchant.pk, month, month_end(month)]
            cursor.execute(sql, params)


# --- full builds -------------------------------------------------------------------------------


def _extent(merchant: Merchant) -> tuple[date, date] | None:
    """The first and last local day holding anything the rollups count."""
    tz = ZoneInfo(merchant.timezone)
    found: list[datetime] = []
    for model, field_name in (
        (Order, "placed_at"),
        (Return, "created_at"),
        (Inspection, "inspected_at"),
    ):
        bounds = model.objects.filter(merchant=merchant).aggregate(
            first=Min(field_name), last=Max(field_name)
        )
        found += [value for value in bounds.values() if value is not None]
    if not found:
        return None
    return min(found).astimezone(tz).date(), max(found).astimezone(tz).date()


def rollups_build(*, merchant: Merchant) -> int:
    """Rebuild every day of the merchant's rollups; answers the days rebuilt."""
    with merchant_scope(merchant):
        extent = _extent(merchant)
        state, _ = RollupState.objects.get_or_create(merchant=merchant)
    started = timezone.now()
    days = 0
    if extent is not None:
        days = rollups_rebuild(merchant=merchant, first=extent[0], last=extent[1])
    with merchant_scope(merchant):
        # days outside the extent (data deleted since) hold nothing any more
        stale = Q(day__lt=extent[0]) | Q(day__gt=extent[1]) if extent else Q()
        for model in (SkuDay, ReturnDay, InspectionDay, DailyFigure):
            model.objects.filter(stale, merchant=merchant).delete()
        stale_months = (
            Q(month__lt=extent[0].replace(day=1)) | Q(month__gt=extent[1]) if extent else Q()
        )
        for month_model in (SkuMonth, ReturnMonth, InspectionMonth, MonthFigure):
            month_model.objects.filter(stale_months, merchant=merchant).delete()
        RollupState.objects.filter(pk=state.pk).update(built_at=started, refreshed_at=started)
    return days


def analytics_rebuild_all() -> int:
    """The daily job: every active merchant rebuilt in full; answers the days rebuilt."""
    return sum(rollups_build(merchant=m) for m in Merchant.objects.filter(is_active=True))


# --- the refresh job ---------------------------------------------------------------------------


@dataclass
class RefreshReport:
    built: list[str] = field(default_factory=list)  # merchants built in full
    refreshed: dict[str, int] = field(default_factory=dict)  # merchant -> days rebuilt


def _cursor(name: str, *, now: datetime) -> RollupCursor:
    """The cursor; made at the sources' current end on first use (everything before it is
    covered by the full build every merchant gets first)."""
    cursor = RollupCursor.objects.filter(name=name).first()
    if cursor is not None:
        return cursor
    with scopes_disabled():
        last = {
            "return_events": ReturnEvent.objects.aggregate(last=Max("id"))["last"],
            "store_credit_entries": StoreCreditEntry.objects.aggregate(last=Max("id"))["last"],
        }.get(name)
    cursor, _ = RollupCursor.objects.get_or_create(
        name=name, defaults={"position": last or 0, "position_at": now - LAG}
    )
    return cursor


def next_position(position: int, seen: list[tuple[int, datetime]], cutoff: datetime) -> int:
    """Where an id cursor moves after reading `seen` (id, written at): past every row older
    than the cutoff, but not past the first younger one, which is read again next time (a row
    with a smaller id may still be uncommitted)."""
    if not seen:
        return position
    young = [pk for pk, at in seen if at >= cutoff]
    return min(young) - 1 if young else max(pk for pk, _ in seen)


def _scan(queryset: Any, position: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows after `position` by id, a batch at a time."""
    while True:
        batch = list(queryset.filter(id__gt=position).order_by("id")[:SCAN_BATCH])
        if not batch:
            return
        yield batch
        position = batch[-1][0]


def _dirty_from_events(cursor: RollupCursor, cutoff: datetime) -> tuple[set[int], int]:
    """Ids of the returns whose events came after the cursor, and the cursor's next position."""
    returns: set[int] = set()
    seen: list[tuple[int, datetime]] = []
    rows = ReturnEvent.objects.values_list("id", "created_at", "return_request_id")
    for batch in _scan(rows, cursor.position):
        seen += [(pk, at) for pk, at, _ in batch]
        returns.update(ret for _, _, ret in batch)
    return returns, next_position(cursor.position, seen, cutoff)


def _dirty_from_credit(cursor: RollupCursor, cutoff: datetime) -> tuple[set[int], int]:
    """Ids of the returns whose store credit was spent, expired or corrected after the cursor."""
    seen: list[tuple[int, datetime]] = []
    debits: list[int] = []
    rows = StoreCreditEntry.objects.values_list("id", "created_at", "kind")
    for batch in _scan(rows, cursor.position):
        seen += [(pk, at) for pk, at, _ in batch]
        debits += [pk for pk, _, kind in batch if kind != ISSUE]
    returns: set[int] = set()
    for start in range(0, len(debits), SCAN_BATCH):
        references = StoreCreditLotUse.objects.filter(
            entry_id__in=debits[start : start + SCAN_BATCH]
        ).values("lot__entry__reference")
        returns.update(
            Refund.objects.filter(public_id__in=references).values_list(
                "return_request_id", flat=True
            )
        )
    return returns, next_position(cursor.position, seen, cutoff)


def _return_days(return_ids: set[int]) -> dict[int, set[date]]:
    """merchant id -> the local days of these returns and of their units' inspections."""
    days: dict[int, set[date]] = defaultdict(set)
    ids = sorted(return_ids)
    zones = dict(Merchant.objects.values_list("id", "timezone"))
    for start in range(0, len(ids), SCAN_BATCH):
        part = ids[start : start + SCAN_BATCH]
        for merchant_id, created_at in Return.objects.filter(id__in=part).values_list(
            "merchant_id", "created_at"
        ):
            days[merchant_id].add(created_at.astimezone(ZoneInfo(zones[merchant_id])).date())
        inspected = (
            Inspection.objects.filter(return_request_id__in=part)
            .values_list("merchant_id", "inspected_at")
            .order_by()
            .distinct()
        )
        for merchant_id, at in inspected:
            days[merchant_id].add(at.astimezone(ZoneInfo(zones[merchant_id])).date())
    return days


def _order_days(cursor: RollupCursor) -> dict[int, set[date]]:
    """merchant id -> the local days of orders changed since the cursor's time."""
    days: dict[int, set[date]] = defaultdict(set)
    since = cursor.position_at or timezone.now() - LAG
    zones = dict(Merchant.objects.values_list("id", "timezone"))
    changed = Order.objects.filter(updated_at__gte=since).values_list("merchant_id", "placed_at")
    for merchant_id, placed_at in changed.iterator(chunk_size=SCAN_BATCH):
        days[merchant_id].add(placed_at.astimezone(ZoneInfo(zones[merchant_id])).date())
    return days


def analytics_refresh(*, now: datetime | None = None) -> RefreshReport:
    """The periodic job: build merchants never built, then rebuild the days that changed."""
    now = now or timezone.now()
    cutoff = now - LAG
    report = RefreshReport()
    with scopes_disabled():
        # the cursors first: whatever is written from here on is read by the scan below, and
        # whatever was written before is in the full build of a merchant never built
        events = _cursor("return_events", now=now)
        credit = _cursor("store_credit_entries", now=now)
        orders = _cursor("orders", now=now)
        built = set(
            RollupState.objects.filter(built_at__isnull=False).values_list("merchant_id", flat=True)
        )
    for merchant in Merchant.objects.filter(is_active=True).exclude(pk__in=built):
        rollups_build(merchant=merchant)
        report.built.append(merchant.slug)
    with scopes_disabled():
        event_returns, event_position = _dirty_from_events(events, cutoff)
        credit_returns, credit_position = _dirty_from_credit(credit, cutoff)
        dirty = _return_days(event_returns | credit_returns)
        for merchant_id, days in _order_days(orders).items():
            dirty[merchant_id] |= days
    for merchant in Merchant.objects.filter(pk__in=list(dirty), is_active=True):
        count = 0
        for first, last in day_ranges(dirty[merchant.pk]):
            count += rollups_rebuild(merchant=merchant, first=first, last=last)
        report.refreshed[merchant.slug] = count
    RollupCursor.objects.filter(pk=events.pk).update(position=event_position)
    RollupCursor.objects.filter(pk=credit.pk).update(position=credit_position)
    RollupCursor.objects.filter(pk=orders.pk).update(position_at=cutoff)
    if report.built or report.refreshed:
        logger.info("analytics refreshed: built %s, days %s", report.built, report.refreshed)
    return report
