"""Analytics (API.md): the summary of a date range and the return rates by group, as JSON or,
with `?format=csv`, as a CSV file of one table. docs/decisions/0015-analytics.md defines every
figure; rates are decimals (0.125), durations seconds, money `{amount, currency}`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from returndesk.analytics import selectors, tables
from returndesk.analytics.selectors import DEFAULT_DAYS, MAX_DAYS, RateRow, Summary
from returndesk.analytics.tables import SUMMARY_TABLES, Table, csv_lines
from returndesk.api.auth import merchant_context
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS, MoneyOut
from returndesk.core.errors import FieldError, ValidationFailed
from returndesk.core.money import Money
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant

router = Router(tags=["analytics"])
CSV_ANSWER = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    date_from: date | None = Field(
        None, alias="from", description="first local day (default: 29 days before `to`)"
    )
    date_to: date | None = Field(None, alias="to", description="last local day (default: today)")
    period: Literal["day", "week", "month"] | None = Field(
        None, description="how periods are grouped (default: by the range's length)"
    )
    format: Literal["json", "csv"] = "json"


class SummaryQuery(RangeQuery):
    table: str | None = Field(
        None, description=f"with format=csv, the table: {', '.join(SUMMARY_TABLES)}"
    )


class RatesQuery(RangeQuery):
    group_by: Literal["sku", "category", "reason", "channel", "period"] = "sku"
    min_units: int = Field(
        selectors.MIN_UNITS_SOLD,
        ge=1,
        le=1_000_000,
        description="SKUs and categories with fewer units sold are listed after the ranked ones",
    )
    limit: int = Field(100, ge=1, le=10_000, description="rows in JSON (CSV has them all)")


class RateOut(BaseModel):
    key: str
    label: str
    units_sold: int
    units_returned: int
    units_rate: float | None
    value_sold: MoneyOut
    value_returned: MoneyOut
    value_rate: float | None
    share: float | None = Field(description="the group's part of the units returned")
    ranked: bool = Field(description="enough units sold to be ranked among the worst")


class RatesOut(BaseModel):
    group_by: str
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    min_units: int
    as_of: datetime | None = Field(description="when the figures were last brought up to date")
    total: int
    data: list[RateOut]


class ReturnRateOut(BaseModel):
    units_sold: int
    units_returned: int
    units_rate: float | None
    value_sold: MoneyOut
    value_returned: MoneyOut
    value_rate: float | None
    returns: int
    return_lines: int
    returns_released: int = Field(description="rejected, cancelled or expired: not counted")


class PeriodOut(BaseModel):
    start: date
    units_sold: int
    units_returned: int
    units_rate: float | None
    value_sold: MoneyOut
    value_returned: MoneyOut
    reasons: dict[str, int]


class CycleOut(BaseModel):
    step: str
    returns: int
    p50_seconds: int | None
    p90_seconds: int | None


class DispositionFiguresOut(BaseModel):
    option: str
    units: int
    recovered: MoneyOut
    original: MoneyOut
    recovery_rate: float | None
    co2e_avoided_kg: float


class DispositionsOut(BaseModel):
    units: int
    recovered: MoneyOut
    original: MoneyOut
    recovery_rate: float | None
    co2e_avoided_kg: float
    options: list[DispositionFiguresOut]


class AmountOut(BaseModel):
    key: str
    count: int
    amount: MoneyOut


class StoreCreditFiguresOut(BaseModel):
    issued: MoneyOut
    bonus: MoneyOut
    redeemed: MoneyOut
    expired: MoneyOut
    reversed_or_adjusted: MoneyOut
    unspent: MoneyOut


class MoneyFiguresOut(BaseModel):
    refunds_by_method: list[AmountOut]
    refunded: MoneyOut
    refunds_not_paid: list[AmountOut]
    store_credit: StoreCreditFiguresOut
    exchanges: int
    exchange_credit: MoneyOut
    retained: MoneyOut
    fees: list[AmountOut]
    fees_collected: MoneyOut


class CostOut(BaseModel):
    returns: int
    labels: int
    label_cost: MoneyOut
    processed: int
    processing_each: MoneyOut
    processing_cost: MoneyOut
    total: MoneyOut
    per_return: MoneyOut | None


class SignalOut(BaseModel):
    signal: str
    returns: int


class FraudOut(BaseModel):
    signals: list[SignalOut]
    sent_to_review: int
    sent_to_review_value: MoneyOut
    approved_after_review: int
    rejected_after_review: int
    rejected_value: MoneyOut
    contradicted_by_inspection: int
    contradicted_and_reviewed: int
    contradicted_deductions: MoneyOut
    adjustments: list[AmountOut]
    adjustments_total: MoneyOut
    held_back: MoneyOut


class CountsOut(BaseModel):
    inspected: int
    defective: int
    rate: float | None


class WarningOut(BaseModel):
    sku: str
    name: str
    category: str
    window: CountsOut
    baseline: CountsOut
    category_rate: float | None
    expected_rate: float | None
    p_value: float | None
    defect_codes: dict[str, int]


class SummaryOut(BaseModel):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    currency: str
    period: str
    as_of: datetime | None
    return_rate: ReturnRateOut
    reasons: list[RateOut]
    channels: list[RateOut]
    periods: list[PeriodOut]
    cycle_times: list[CycleOut]
    dispositions: DispositionsOut
    money: MoneyFiguresOut
    cost: CostOut
    fraud: FraudOut
    defect_warnings: list[WarningOut]


# --- rendering -----------------------------------------------------------------------------


def _money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else value.as_dict()


def _rate(value: Any) -> float | None:
    found = tables.ratio(value, 6)
    return None if found is None else float(found)


def _seconds(value: Any) -> int | None:
    return None if value is None else round(value)


def rate_out(row: RateRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "units_sold": row.units_sold,
        "units_returned": row.units_returned,
        "units_rate": _rate(row.units_rate),
        "value_sold": _money(row.value_sold),
        "value_returned": _money(row.value_returned),
        "value_rate": _rate(row.value_rate),
        "share": _rate(row.share),
        "ranked": row.ranked,
    }


def _amounts(rows: list[Any]) -> list[dict[str, Any]]:
    return [{"key": r.key, "count": r.count, "amount": _money(r.amount)} for r in rows]


def summary_out(s: Summary) -> dict[str, Any]:
    rate, d, m, c, f = s.return_rate, s.dispositions, s.money, s.cost, s.fraud
    credit = m.store_credit
    return {
        "from": s.first,
        "to": s.last,
        "currency": s.currency,
        "period": s.period,
        "as_of": s.as_of,
        "return_rate": {
            "units_sold": rate.units_sold,
            "units_returned": rate.units_returned,
            "units_rate": _rate(rate.units_rate),
            "value_sold": _money(rate.value_sold),
            "value_returned": _money(rate.value_returned),
            "value_rate": _rate(rate.value_rate),
            "returns": rate.returns,
            "return_lines": rate.lines_returned,
            "returns_released": rate.released,
        },
        "reasons": [rate_out(r) for r in s.reasons],
        "channels": [rate_out(r) for r in s.channels],
        "periods": [
            {
                "start": p.start,
                "units_sold": p.units_sold,
                "units_returned": p.units_returned,
                "units_rate": _rate(p.units_rate),
                "value_sold": _money(p.value_sold),
                "value_returned": _money(p.value_returned),
                "reasons": p.reasons,
            }
            for p in s.periods
        ],
        "cycle_times": [
            {
                "step": t.step,
                "returns": t.returns,
                "p50_seconds": _seconds(t.p50),
                "p90_seconds": _seconds(t.p90),
            }
            for t in s.cycle_times
        ],
        "dispositions": {
            "units": d.units,
            "recovered": _money(d.recovered),
            "original": _money(d.original),
            "recovery_rate": _rate(d.recovery_rate),
            "co2e_avoided_kg": float(d.co2e_kg),
            "options": [
                {
                    "option": r.option,
                    "units": r.units,
                    "recovered": _money(r.recovered),
                    "original": _money(r.original),
                    "recovery_rate": _rate(r.recovery_rate),
                    "co2e_avoided_kg": float(r.co2e_kg),
                }
                for r in d.rows
            ],
        },
        "money": {
            "refunds_by_method": _amounts(m.refunds),
            "refunded": _money(m.refunded),
            "refunds_not_paid": _amounts(m.open_refunds),
            "store_credit": {
                "issued": _money(credit.issued),
                "bonus": _money(credit.bonus),
                "redeemed": _money(credit.redeemed),
                "expired": _money(credit.expired),
                "reversed_or_adjusted": _money(credit.other),
                "unspent": _money(credit.unspent),
            },
            "exchanges": m.exchanges,
            "exchange_credit": _money(m.exchange_credit),
            "retained": _money(m.retained),
            "fees": _amounts(m.fees),
            "fees_collected": _money(m.fees_total),
        },
        "cost": {
            "returns": c.returns,
            "labels": c.labels,
            "label_cost": _money(c.label_cost),
            "processed": c.processed,
            "processing_each": _money(c.processing_each),
            "processing_cost": _money(c.processing_cost),
            "total": _money(c.total),
            "per_return": _money(c.per_return),
        },
        "fraud": {
            "signals": [{"signal": name, "returns": n} for name, n in f.signals],
            "sent_to_review": f.reviewed,
            "sent_to_review_value": _money(f.reviewed_value),
            "approved_after_review": f.approved,
            "rejected_after_review": f.rejected,
            "rejected_value": _money(f.rejected_value),
            "contradicted_by_inspection": f.contradicted,
            "contradicted_and_reviewed": f.contradicted_reviewed,
            "contradicted_deductions": _money(f.contradicted_deductions),
            "adjustments": _amounts(f.adjustments),
            "adjustments_total": _money(f.adjustments_total),
            "held_back": _money(f.held_back),
        },
        "defect_warnings": [
            {
                "sku": w.sku,
                "name": w.name,
                "category": w.category,
                "window": {
                    "inspected": w.warning.window.inspected,
                    "defective": w.warning.window.defective,
                    "rate": _rate(w.warning.window.rate),
                },
                "baseline": {
                    "inspected": w.warning.baseline.inspected,
                    "defective": w.warning.baseline.defective,
                    "rate": _rate(w.warning.baseline.rate),
                },
                "category_rate": _rate(w.warning.category_rate),
                "expected_rate": _rate(w.warning.expected_rate),
                "p_value": w.warning.p_value,
                "defect_codes": dict(w.codes),
            }
            for w in s.warnings
        ],
    }


def local_today(merchant: Merchant) -> date:
    return timezone.now().astimezone(ZoneInfo(merchant.timezone)).date()


def date_range(merchant: Merchant, first: date | None, last: date | None) -> tuple[date, date]:
    """The range asked for, by default the 30 days to today (the merchant's today)."""
    last = last or local_today(merchant)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    errors = []
    if first > last:
        errors.append(FieldError("from", "is after `to`"))
    elif (last - first).days + 1 > MAX_DAYS:
        errors.append(FieldError("from", f"the range is at most {MAX_DAYS} days"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return first, last


def csv_response(table: Table, merchant: Merchant, first: date, last: date) -> HttpResponse:
    response = StreamingHttpResponse(csv_lines(table), content_type="text/csv; charset=utf-8")
    name = f"{table.name}-{merchant.slug}-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]


@router.get(
    "/analytics/summary",
    response={200: SummaryOut, **PROBLEMS},
    by_alias=True,  # the document names `from` and `to` as the answer does
    openapi_extra={"responses": CSV_ANSWER},
)
def analytics_summary(request: HttpRequest, query: Query[SummaryQuery]) -> HttpResponse:
    """Every figure of a date range: return rate, reasons and channels, reasons over time,
    cycle times, dispositions, money, cost per return, fraud and the flagged defect trends.
    With `format=csv` and `table`, one of its tables as a CSV file."""
    with merchant_context(request, perm.ANALYTICS_VIEW) as (_, merchant):
        if query.format == "csv" and query.table not in SUMMARY_TABLES:
            raise ValidationFailed.on(
                "table", f"with format=csv, one of {', '.join(SUMMARY_TABLES)}"
            )
        first, last = date_range(merchant, query.date_from, query.date_to)
        summary = selectors.analytics_summary(
            merchant=merchant, first=first, last=last, period=query.period
        )
        if query.format == "csv":
            assert query.table is not None
            return csv_response(tables.summary_table(summary, query.table), merchant, first, last)
        return json_response(summary_out(summary))


@router.get(
    "/analytics/return-rates",
    response={200: RatesOut, **PROBLEMS},
    by_alias=True,  # the document names `from` and `to` as the answer does
    openapi_extra={"responses": CSV_ANSWER},
)
def analytics_return_rates(request: HttpRequest, query: Query[RatesQuery]) -> HttpResponse:
    """Units and value returned over units and value sold, per SKU, category, reason, channel
    or period; SKUs and categories worst first, those under `min_units` sold after them."""
    with merchant_context(request, perm.ANALYTICS_VIEW) as (_, merchant):
        first, last = date_range(merchant, query.date_from, query.date_to)
        rows = selectors.return_rates(
            merchant=merchant,
            first=first,
            last=last,
            group_by=query.group_by,
            min_units=query.min_units,
            period=query.period,
        )
        if query.format == "csv":
            table = tables.rates_table(rows, query.group_by, merchant.currency)
            return csv_response(table, merchant, first, last)
        return json_response(
            {
                "group_by": query.group_by,
                "from": first,
                "to": last,
                "min_units": query.min_units,
                "as_of": selectors.rollups_as_of(merchant=merchant),
                "total": len(rows),
                "data": [rate_out(r) for r in rows[: query.limit]],
            }
        )
