"""Reading the figures (docs/decisions/0015-analytics.md has every definition).

Every selector reads the daily rollups of one merchant (`models.py`) with a fixed number of
queries, whatever the range or the number of SKUs. Money is `Money` in the merchant's currency;
rates are exact `Fraction`s (None where there is nothing to divide by), for the interfaces to
round for display.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from returndesk.analytics.models import (
    AnalyticsSettings,
    DailyFigure,
    InspectionDay,
    InspectionMonth,
    MonthFigure,
    ReturnDay,
    ReturnMonth,
    RollupState,
    SkuDay,
    SkuMonth,
)
from returndesk.analytics.rollups import CYCLE_STEPS, local_bounds, month_end
from returndesk.analytics.stats import (
    BASELINE_DAYS,
    MIN_DEFECTS,
    MIN_INSPECTED,
    WINDOW_DAYS,
    Counts,
    DefectWarning,
    early_warning,
    percentile,
    rate,
)
from returndesk.catalog.models import Product
from returndesk.core.money import Money
from returndesk.tenants.models import Merchant
from returndesk.warehouse.models import InspectionDefect

Period = Literal["day", "week", "month"]
GroupBy = Literal["sku", "category", "reason", "channel", "period"]
GROUP_BYS: tuple[str, ...] = ("sku", "category", "reason", "channel", "period")
PERIODS: tuple[str, ...] = ("day", "week", "month")
# A SKU (or category) is ranked among the worst only with at least this many units sold in the
# range: below it one return of a one-off sale would top the list at 100 %.
MIN_UNITS_SOLD = 20
UNCATEGORISED = ""
# The range the pages and the API show unless asked (the 30 days to today), and the longest.
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
P50, P90 = Fraction(1, 2), Fraction(9, 10)


def period_for(first: date, last: date) -> Period:
    """The grouping a range reads best in: days up to a month, weeks up to half a year."""
    days = (last - first).days + 1
    return "day" if days <= 31 else "week" if days <= 183 else "month"


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _periods(first: date, last: date, period: str) -> list[date]:
    """Every period start from the one holding `first` to the one holding `last`."""
    starts, day = [], period_start(first, period)
    while day <= last:
        starts.append(day)
        day = (
            day + timedelta(days=1 if period == "day" else 7)
            if period != "month"
            else date(day.year + day.month // 12, day.month % 12 + 1, 1)
        )
    return starts


def _by_period(queryset: Any, period: str) -> tuple[Any, str]:
    """The queryset with the start of each row's period, and the name to group by."""
    if period == "week":
        return queryset.annotate(start=TruncWeek("day")), "start"
    if period == "month":
        return queryset.annotate(start=TruncMonth("day")), "start"
    return queryset, "day"


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- settings --------------------------------------------------------------------------------


def analytics_settings_for(*, merchant: Merchant) -> AnalyticsSettings:
    """The merchant's analytics settings (unsaved defaults when it has none)."""
    found = AnalyticsSettings.objects.filter(merchant=merchant).first()
    return found or AnalyticsSettings(merchant=merchant)


def rollups_as_of(*, merchant: Merchant) -> datetime | None:
    """When the merchant's rollups were last brought up to date (None: never built)."""
    state = RollupState.objects.filter(merchant=merchant).first()
    return state.refreshed_at if state is not None and state.built_at is not None else None


# --- results ---------------------------------------------------------------------------------


class _Rates:
    """Units returned over units sold, and value returned over value sold."""

    units_sold: int
    units_returned: int
    value_sold: Money
    value_returned: Money

    @property
    def units_rate(self) -> Fraction | None:
        return rate(self.units_returned, self.units_sold)

    @property
    def value_rate(self) -> Fraction | None:
        return rate(self.value_returned.amount, self.value_sold.amount)


@dataclass(frozen=True)
class ReturnRate(_Rates):
    units_sold: int
    value_sold: Money
    returns: int  # requested and counted (not rejected, cancelled or expired)
    lines_returned: int
    units_returned: int
    value_returned: Money
    released: int  # returns rejected, cancelled or expired


@dataclass(frozen=True)
class RateRow(_Rates):
    """One group of a return-rate table. For a reason or channel the sales are the range's
    (a sale has no reason); `share` is the group's part of the units returned."""

    key: str
    label: str
    units_sold: int
    value_sold: Money
    lines_returned: int
    units_returned: int
    value_returned: Money
    share: Fraction | None
    ranked: bool  # enough units sold to be ranked (SKUs and categories)


@dataclass(frozen=True)
class PeriodRow:
    start: date
    units_sold: int
    value_sold: Money
    units_returned: int
    value_returned: Money
    reasons: dict[str, int]  # units returned per reason

    @property
    def units_rate(self) -> Fraction | None:
        return rate(self.units_returned, self.units_sold)


@dataclass(frozen=True)
class CycleTime:
    step: str
    returns: int  # returns that went through the step
    p50: Fraction | None  # seconds
    p90: Fraction | None


@dataclass(frozen=True)
class DispositionRow:
    option: str
    units: int
    recovered: Money  # net recovery: what the option brings in less what it costs
    original: Money  # what the units were sold for
    co2e_kg: Decimal

    @property
    def recovery_rate(self) -> Fraction | None:
        return rate(self.recovered.amount, self.original.amount)


@dataclass(frozen=True)
class Dispositions:
    rows: list[DispositionRow]
    units: int
    recovered: Money
    original: Money
    co2e_kg: Decimal

    @property
    def recovery_rate(self) -> Fraction | None:
        return rate(self.recovered.amount, self.original.amount)


@dataclass(frozen=True)
class AmountRow:
    key: str
    count: int
    amount: Money


@dataclass(frozen=True)
class StoreCredit:
    issued: Money  # credited, bonus included
    bonus: Money
    redeemed: Money  # spent in the shop: revenue kept
    expired: Money
    other: Money  # reversed or adjusted away by staff
    unspent: Money


@dataclass(frozen=True)
class MoneyFigures:
    refunds: list[AmountRow]  # succeeded, per method
    refunded: Money
    open_refunds: list[AmountRow]  # pending, processing or failed, per status
    store_credit: StoreCredit
    exchanges: int
    exchange_credit: Money  # the returned units' value that paid for replacements
    retained: Money  # kept by the merchant: exchanges plus store credit net of its bonus
    fees: list[AmountRow]  # deductions per code
    fees_total: Money


@dataclass(frozen=True)
class Cost:
    returns: int
    labels: int
    label_cost: Money
    processed: int  # returns received at a facility
    processing_each: Money
    processing_cost: Money
    total: Money
    per_return: Money | None  # total / returns, rounded half up to a minor unit


@dataclass(frozen=True)
class Fraud:
    signals: list[tuple[str, int]]  # risk signal -> returns it scored on
    reviewed: int  # returns sent to review
    reviewed_value: Money
    approved: int
    rejected: int
    rejected_value: Money  # what the rejected returns asked for: not paid
    contradicted: int  # returns whose inspection contradicted the shopper
    contradicted_reviewed: int  # of them, returns the review had flagged
    contradicted_deductions: Money  # deducted from their refunds
    adjustments: list[AmountRow]  # money paid early and taken back, per cause
    adjustments_total: Money

    @property
    def held_back(self) -> Money:
        return self.rejected_value + self.contradicted_deductions + self.adjustments_total


@dataclass(frozen=True)
class DefectFlag:
    sku: str
    name: str
    category: str
    warning: DefectWarning
    codes: list[tuple[str, int]] = field(default_factory=list)  # defects in the window


@dataclass(frozen=True)
class Summary:
    currency: str
    first: date
    last: date
    period: str
    as_of: datetime | None
    return_rate: ReturnRate
    reasons: list[RateRow]
    channels: list[RateRow]
    periods: list[PeriodRow]
    reason_codes: list[str]  # every reason of the range, most units first
    cycle_times: list[CycleTime]
    dispositions: Dispositions
    money: MoneyFigures
    cost: Cost
    fraud: Fraud
    warnings: list[DefectFlag]  # flagged SKUs only


# --- the summary -------------------------------------------------------------------------------


def _dicts(queryset: Any) -> list[dict[str, Any]]:
    """The rows of a `.values()` query, typed as plain dicts."""
    return list(queryset)


def _split(first: date, last: date) -> tuple[Q, tuple[date, date] | None]:
    """first..last as the days to read from a day table (the part months at either end) and
    the whole months to read from its month table (first and last month), if any."""
    first_whole = first if first.day == 1 else month_end(first) + timedelta(days=1)
    last_whole = last if last == month_end(last) else last.replace(day=1) - timedelta(days=1)
    if first_whole > last_whole:
        return Q(day__gte=first, day__lte=last), None
    days = Q(day__gte=first, day__lt=first_whole) | Q(day__gt=last_whole, day__lte=last)
    return days, (first_whole, last_whole.replace(day=1))


def _summed(
    merchant: Merchant,
    first: date,
    last: date,
    tables: tuple[Any, Any],
    keys: tuple[str, ...],
    sums: tuple[str, ...],
    *,
    where: Q | None = None,
    by_month: bool = False,
) -> dict[tuple[Any, ...], list[int]]:
    """keys -> the sums over first..last, from a day table and its month table: two queries
    (one when the range holds no whole month). With `by_month` the key starts with the first
    day of each row's month."""
    day_model, month_model = tables
    days, months = _split(first, last)
    aggregates = {f"sum_{name}": Sum(name) for name in sums}
    extra = where or Q()
    day_rows = day_model.objects.filter(days, extra, merchant=merchant)
    if by_month:
        day_rows = day_rows.annotate(month_start=TruncMonth("day"))
    queries = [day_rows]
    if months is not None:
        month_rows = month_model.objects.filter(
            extra, merchant=merchant, month__gte=months[0], month__lte=months[1]
        )
        queries.append(month_rows.annotate(month_start=F("month")) if by_month else month_rows)
    grouping = ("month_start", *keys) if by_month else keys
    found: dict[tuple[Any, ...], list[int]] = {}
    for query in queries:
        for row in query.values_list(*grouping).annotate(**aggregates).order_by():
            key = (_as_date(row[0]), *row[1 : len(grouping)]) if by_month else row[: len(keys)]
            values = [int(v or 0) for v in row[len(grouping) :]]
            previous = found.get(key)
            found[key] = (
                values
                if previous is None
                else [x + y for x, y in zip(previous, values, strict=True)]
            )
    return found


def _figures(merchant: Merchant, first: date, last: date) -> dict[str, dict[str, list[int]]]:
    """figure -> key -> [n, a, b, c, d] summed over the range."""
    rows = _summed(
        merchant, first, last, (DailyFigure, MonthFigure), ("figure", "key"), tuple("nabcd")
    )
    found: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (figure, key), values in rows.items():
        found[figure][key] = values
    return found


def _total(rows: dict[str, list[int]], column: int) -> int:
    return sum(values[column] for values in rows.values())


def _cycle_times(cycle: dict[str, list[int]]) -> list[CycleTime]:
    buckets: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for key, (n, seconds, *_) in cycle.items():
        step, _, lower = key.partition(":")
        buckets[step].append((int(lower), n, seconds))
    return [
        CycleTime(
            step=step,
            returns=sum(n for _, n, _ in buckets[step]),
            p50=percentile(buckets[step], P50),
            p90=percentile(buckets[step], P90),
        )
        for step, _, _ in CYCLE_STEPS
    ]


def _dispositions(rows: dict[str, list[int]], currency: str) -> Dispositions:
    found = [
        DispositionRow(
            option=option,
            units=n,
            recovered=Money(a, currency),
            original=Money(b, currency),
            co2e_kg=Decimal(c) / 1000,
        )
        for option, (n, a, b, c, _) in sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return Dispositions(
        rows=found,
        units=_total(rows, 0),
        recovered=Money(_total(rows, 1), currency),
        original=Money(_total(rows, 2), currency),
        co2e_kg=Decimal(_total(rows, 3)) / 1000,
    )


def _amounts(rows: dict[str, list[int]], currency: str) -> list[AmountRow]:
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return [AmountRow(key, values[0], Money(values[1], currency)) for key, values in ordered]


def _by_part(rows: dict[str, list[int]], part: int) -> dict[str, list[int]]:
    """Rows keyed "x:y" summed by x (part 0) or by y (part 1)."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for key, values in rows.items():
        name = key.split(":", 1)[part] if ":" in key else key
        found[name] = [x + y for x, y in zip(found[name], values, strict=True)]
    return dict(found)


def _money(figures: dict[str, dict[str, list[int]]], currency: str) -> MoneyFigures:
    refunds = figures.get("refund", {})
    succeeded = {k: v for k, v in refunds.items() if k.startswith("succeeded:")}
    others = {k: v for k, v in refunds.items() if not k.startswith("succeeded:")}
    credit = figures.get("store_credit", {})

    def credit_amount(*kinds: str) -> Money:
        return Money(sum(credit.get(k, [0, 0])[1] for k in kinds), currency)

    store_credit = StoreCredit(
        issued=credit_amount("issued"),
        bonus=Money(credit.get("issued", [0, 0, 0])[2], currency),
        redeemed=credit_amount("redeemed"),
        expired=credit_amount("expired"),
        other=credit_amount("reversed", "adjusted"),
        unspent=credit_amount("unspent"),
    )
    exchanges = {k: v for k, v in figures.get("exchange", {}).items() if k != "cancelled"}
    exchange_credit = Money(_total(exchanges, 1), currency)
    fees = figures.get("fee", {})
    return MoneyFigures(
        refunds=_amounts(_by_part(succeeded, 1), currency),
        refunded=Money(_total(succeeded, 1), currency),
        open_refunds=_amounts(_by_part(others, 0), currency),
        store_credit=store_credit,
        exchanges=_total(exchanges, 0),
        exchange_credit=exchange_credit,
        retained=exchange_credit + store_credit.issued - store_credit.bonus,
        fees=_amounts(fees, currency),
        fees_total=Money(_total(fees, 1), currency),
    )


def _cost(figures: dict[str, dict[str, list[int]]], currency: str, processing_each: int) -> Cost:
    returns = _total(figures.get("returns", {}), 0)
    label = figures.get("label", {}).get("", [0, 0, 0, 0, 0])
    processed = figures.get("processed", {}).get("", [0])[0]
    total = label[1] + processing_each * processed
    per_return = None
    if returns:
        quotient, remainder = divmod(total, returns)
        per_return = Money(quotient + (1 if 2 * remainder >= returns else 0), currency)
    return Cost(
        returns=returns,
        labels=label[0],
        label_cost=Money(label[1], currency),
        processed=processed,
        processing_each=Money(processing_each, currency),
        processing_cost=Money(processing_each * processed, currency),
        total=Money(total, currency),
        per_return=per_return,
    )


def _fraud(figures: dict[str, dict[str, list[int]]], currency: str) -> Fraud:
    fraud = figures.get("fraud", {})

    def get(key: str) -> list[int]:
        return fraud.get(key, [0, 0, 0, 0, 0])

    signals = sorted(
        ((k.removeprefix("signal:"), v[0]) for k, v in fraud.items() if k.startswith("signal:")),
        key=lambda item: (-item[1], item[0]),
    )
    adjustments = figures.get("adjustment", {})
    return Fraud(
        signals=signals,
        reviewed=get("review")[0],
        reviewed_value=Money(get("review")[1], currency),
        approved=get("review_approved")[0],
        rejected=get("review_rejected")[0],
        rejected_value=Money(get("review_rejected")[1], currency),
        contradicted=get("contradicted")[0],
        contradicted_reviewed=get("contradicted_reviewed")[0],
        contradicted_deductions=Money(get("contradicted")[1], currency),
        adjustments=_amounts(_by_part(adjustments, 1), currency),
        adjustments_total=Money(_total(adjustments, 1), currency),
    )


def _share_rows(
    rows: dict[str, list[int]], units_sold: int, value_sold: Money, currency: str
) -> list[RateRow]:
    """Reason or channel rows ([lines, units, value] each) against the range's sales."""
    returned = sum(values[1] for values in rows.values())
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return [
        RateRow(
            key=key,
            label=key,
            units_sold=units_sold,
            value_sold=value_sold,
            lines_returned=lines,
            units_returned=units,
            value_returned=Money(value, currency),
            share=rate(units, returned),
            ranked=True,
        )
        for key, (lines, units, value) in ordered
    ]


def _reason_channel(merchant: Merchant, first: date, last: date) -> list[dict[str, Any]]:
    """Lines, units and value returned per reason and channel."""
    found = _summed(
        merchant,
        first,
        last,
        (ReturnDay, ReturnMonth),
        ("reason", "channel"),
        ("lines", "units", "value"),
    )
    return [
        {"reason": reason, "channel": channel, "lines": lines, "units": units, "value": value}
        for (reason, channel), (lines, units, value) in found.items()
    ]


def _grouped(rows: Iterable[dict[str, Any]], key: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in _dicts(rows):
        values = found[row[key]]
        values[0] += int(row["lines"] or 0)
        values[1] += int(row["units"] or 0)
        values[2] += int(row["value"] or 0)
    return dict(found)


def _per_period(
    merchant: Merchant, first: date, last: date, period: str
) -> tuple[dict[date, list[int]], dict[tuple[date, str], list[int]]]:
    """(units, value) sold per period start, and (units, value) returned per period start and
    reason: by month from the month tables, by day or week from the day tables."""
    if period == "month":
        sales = _summed(
            merchant,
            first,
            last,
            (DailyFigure, MonthFigure),
            (),
            ("a", "b"),
            where=Q(figure="sales"),
            by_month=True,
        )
        returned = _summed(
            merchant,
            first,
            last,
            (ReturnDay, ReturnMonth),
            ("reason",),
            ("units", "value"),
            by_month=True,
        )
        return {start: values for (start,), values in sales.items()}, {
            (start, reason): values for (start, reason), values in returned.items()
        }
    in_range = {"merchant": merchant, "day__gte": first, "day__lte": last}
    sales_rows, grouping = _by_period(
        DailyFigure.objects.filter(**in_range, figure="sales"), period
    )
    returned_rows, _ = _by_period(ReturnDay.objects.filter(**in_range), period)
    sold = {
        _as_date(start): [int(units or 0), int(value or 0)]
        for start, units, value in sales_rows.values_list(grouping)
        .annotate(units=Sum("a"), value=Sum("b"))
        .order_by()
    }
    back = {
        (_as_date(start), reason): [int(units or 0), int(value or 0)]
        for start, reason, units, value in returned_rows.values_list(grouping, "reason")
        .annotate(units=Sum("units"), value=Sum("value"))
        .order_by()
    }
    return sold, back


def _period_rows(
    merchant: Merchant, first: date, last: date, period: str, currency: str
) -> tuple[list[PeriodRow], list[str]]:
    """Sales and returns per period, with the units returned per reason."""
    sold, returned = _per_period(merchant, first, last, period)
    reasons: dict[date, dict[str, int]] = defaultdict(dict)
    values: dict[date, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for (start, reason), (units, value) in returned.items():
        reasons[start][reason] = units
        values[start] += value
        totals[reason] += units
    rows = [
        PeriodRow(
            start=start,
            units_sold=sold.get(start, [0, 0])[0],
            value_sold=Money(sold.get(start, [0, 0])[1], currency),
            units_returned=sum(reasons[start].values()),
            value_returned=Money(values[start], currency),
            reasons=dict(reasons[start]),
        )
        for start in _periods(first, last, period)
    ]
    order = sorted(totals, key=lambda reason: (-totals[reason], reason))
    return rows, order


def analytics_summary(
    *, merchant: Merchant, first: date, last: date, period: str | None = None
) -> Summary:
    """Every figure of the range first..last (local days, both included): ten queries."""
    currency = merchant.currency
    period = period or period_for(first, last)
    figures = _figures(merchant, first, last)
    by_reason_channel = _reason_channel(merchant, first, last)
    sales = figures.get("sales", {}).get("", [0, 0, 0, 0, 0])
    units_sold, value_sold = sales[1], Money(sales[2], currency)
    reasons = _grouped(by_reason_channel, "reason")
    channels = _grouped(by_reason_channel, "channel")
    periods, reason_codes = _period_rows(merchant, first, last, period, currency)
    settings = analytics_settings_for(merchant=merchant)
    return Summary(
        currency=currency,
        first=first,
        last=last,
        period=period,
        as_of=rollups_as_of(merchant=merchant),
        return_rate=ReturnRate(
            units_sold=units_sold,
            value_sold=value_sold,
            returns=_total(figures.get("returns", {}), 0),
            lines_returned=sum(v[0] for v in reasons.values()),
            units_returned=sum(v[1] for v in reasons.values()),
            value_returned=Money(sum(v[2] for v in reasons.values()), currency),
            released=_total(figures.get("released", {}), 0),
        ),
        reasons=_share_rows(reasons, units_sold, value_sold, currency),
        channels=_share_rows(channels, units_sold, value_sold, currency),
        periods=periods,
        reason_codes=reason_codes,
        cycle_times=_cycle_times(figures.get("cycle", {})),
        dispositions=_dispositions(figures.get("disposition", {}), currency),
        money=_money(figures, currency),
        cost=_cost(figures, currency, settings.processing_cost_amount),
        fraud=_fraud(figures, currency),
        warnings=defect_trends(merchant=merchant, as_of=last, flagged_only=True),
    )


# --- return rates by group ---------------------------------------------------------------------


def _sku_sums(merchant: Merchant, first: date, last: date) -> dict[str, list[int]]:
    """sku -> [sold units, sold value, returned lines, returned units, returned value]."""
    sums = ("sold_units", "sold_value", "returned_lines", "returned_units", "returned_value")
    found = _summed(merchant, first, last, (SkuDay, SkuMonth), ("sku",), sums)
    return {sku: values for (sku,), values in found.items()}


def _ranked(rows: list[RateRow]) -> list[RateRow]:
    """Worst first: ranked rows by units returned over units sold (then value rate, then
    units returned), then the rows below the minimum volume by units returned."""

    def worst(row: RateRow) -> tuple[Any, ...]:
        return (
            not row.ranked,
            -(row.units_rate or 0) if row.ranked else 0,
            -(row.value_rate or 0) if row.ranked else 0,
            -row.units_returned,
            row.key,
        )

    return sorted(rows, key=worst)


def return_rates(
    *,
    merchant: Merchant,
    first: date,
    last: date,
    group_by: str,
    min_units: int = MIN_UNITS_SOLD,
    period: str | None = None,
) -> list[RateRow]:
    """The return rate of the range per SKU, category, reason, channel or period. SKUs and
    categories come worst first, those with fewer than `min_units` sold after the others."""
    currency = merchant.currency
    if group_by in {"sku", "category"}:
        sums = _sku_sums(merchant, first, last)
        products = {
            sku: (name, category)
            for sku, name, category in Product.objects.filter(merchant=merchant).values_list(
                "sku", "name", "category"
            )
        }
        if group_by == "category":
            grouped: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
            for sku, values in sums.items():
                category = products.get(sku, ("", UNCATEGORISED))[1]
                grouped[category] = [x + y for x, y in zip(grouped[category], values, strict=True)]
            sums = dict(grouped)
        returned = sum(values[3] for values in sums.values())
        rows = [
            RateRow(
                key=key,
                label=products.get(key, ("", ""))[0] if group_by == "sku" else key,
                units_sold=su,
                value_sold=Money(sv, currency),
                lines_returned=rl,
                units_returned=ru,
                value_returned=Money(rv, currency),
                share=rate(ru, returned),
                ranked=su >= min_units,
            )
            for key, (su, sv, rl, ru, rv) in sums.items()
        ]
        return _ranked(rows)
    if group_by == "period":
        chosen = period or period_for(first, last)
        periods, _ = _period_rows(merchant, first, last, chosen, currency)
        returned = sum(p.units_returned for p in periods)
        return [
            RateRow(
                key=p.start.isoformat(),
                label=p.start.isoformat(),
                units_sold=p.units_sold,
                value_sold=p.value_sold,
                lines_returned=0,
                units_returned=p.units_returned,
                value_returned=p.value_returned,
                share=rate(p.units_returned, returned),
                ranked=True,
            )
            for p in periods
        ]
    if group_by not in {"reason", "channel"}:
        raise ValueError(f"group_by is one of {', '.join(GROUP_BYS)}")
    sales = DailyFigure.objects.filter(
        merchant=merchant, day__gte=first, day__lte=last, figure="sales"
    ).aggregate(units=Sum("a"), value=Sum("b"))
    grouped_rows = _grouped(_reason_channel(merchant, first, last), group_by)
    units, value = int(sales["units"] or 0), Money(int(sales["value"] or 0), currency)
    return _share_rows(grouped_rows, units, value, currency)


# --- defect trends -----------------------------------------------------------------------------


def defect_trends(
    *, merchant: Merchant, as_of: date, flagged_only: bool = False
) -> list[DefectFlag]:
    """Every SKU inspected in the window (the WINDOW_DAYS days to `as_of`) with the early
    warning's figures: flagged SKUs first, then those tested, each by p-value, then the rest
    by defect rate. With `flagged_only`, only the flagged ones (the summary's), and the SKUs
    that cannot be flagged (under the minimums) are not even weighed. Six queries at most."""
    window_first = as_of - timedelta(days=WINDOW_DAYS - 1)
    baseline_first = window_first - timedelta(days=BASELINE_DAYS)
    tables = (InspectionDay, InspectionMonth)
    keys, sums = ("sku", "category"), ("defective_units", "inspected_units")
    window: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    category_of: dict[str, str] = {}
    for (sku, category), (k, n) in _summed(
        merchant, window_first, as_of, tables, keys, sums
    ).items():
        window[sku][0] += k
        window[sku][1] += n
        category_of[sku] = category
    # the baseline per SKU and per category (the category as the rollups copied it)
    baseline: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    overall = [0, 0]
    baseline_last = window_first - timedelta(days=1)
    for (sku, category), (k, n) in _summed(
        merchant, baseline_first, baseline_last, tables, keys, sums
    ).items():
        for totals in (baseline[sku], by_category[category], overall):
            totals[0] += k
            totals[1] += n
    fallback = Fraction(*overall) if overall[1] else Fraction(0)
    flags = []
    for sku, (k, n) in window.items():
        if flagged_only and (k < MIN_DEFECTS or n < MIN_INSPECTED):
            continue  # cannot be flagged: not worth a p-value
        in_category = by_category.get(category_of[sku], [0, 0])
        category_rate = Fraction(*in_category) if in_category[1] else fallback
        warning = early_warning(Counts(k, n), Counts(*baseline.get(sku, [0, 0])), category_rate)
        if flagged_only and not warning.flagged:
            continue
        flags.append(DefectFlag(sku, "", category_of[sku], warning))
    names_of = (
        [f.sku for f in flags]
        if flagged_only
        else InspectionDay.objects.filter(
            merchant=merchant, day__gte=window_first, day__lte=as_of
        ).values("sku")
    )
    names = dict(
        Product.objects.filter(merchant=merchant, sku__in=names_of).values_list("sku", "name")
    )
    flags = [DefectFlag(f.sku, names.get(f.sku, ""), f.category, f.warning) for f in flags]
    flags.sort(
        key=lambda f: (
            not f.warning.flagged,
            f.warning.p_value if f.warning.p_value is not None else 2.0,
            -(f.warning.window.rate or 0),
            f.sku,
        )
    )
    flagged = [f.sku for f in flags if f.warning.flagged]
    if not flagged:
        return flags
    codes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    start, end = local_bounds(window_first, as_of, ZoneInfo(merchant.timezone))
    found = (
        InspectionDefect.objects.filter(
            merchant=merchant, sku__in=flagged, inspected_at__gte=start, inspected_at__lt=end
        )
        .values("sku", "code")
        .annotate(n=Count("id"))
        .order_by("sku", "-n", "code")
    )
    for row in _dicts(found):
        codes[row["sku"]].append((row["code"], row["n"]))
    return [
        DefectFlag(f.sku, f.name, f.category, f.warning, codes.get(f.sku, []))
        if f.warning.flagged
        else f
        for f in flags
    ]
