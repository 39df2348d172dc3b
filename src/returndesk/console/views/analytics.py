"""The merchant's analytics pages: the overview (every figure of a date range), the return
rates by group, and the defect trends with the early warning; each table downloads as CSV.

Charts are SVG drawn on the server (`operations.charts` for single series, `analytics.charts`
for reasons over time) with their figures in a table beside them. Every page reads the daily
rollups in a fixed number of queries (docs/decisions/0015-analytics.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.analytics import selectors, tables
from returndesk.analytics.charts import Column, legend, stacked_column_chart
from returndesk.analytics.selectors import (
    DEFAULT_DAYS,
    GROUP_BYS,
    MAX_DAYS,
    MIN_UNITS_SOLD,
    Summary,
)
from returndesk.analytics.services import analytics_settings_update
from returndesk.analytics.tables import Table, csv_lines, percent
from returndesk.console.access import Seat
from returndesk.console.views.common import View, console_page, page_context
from returndesk.core.errors import ApplicationError
from returndesk.core.money import Money, MoneyError
from returndesk.core.tenancy import merchant_scope
from returndesk.operations.charts import Bar, bar_chart, column_chart
from returndesk.tenants import permissions as perm

WORST_SHOWN = 15  # SKUs or categories in the chart of the rates page
ROWS_SHOWN = 200  # rows of its table (the CSV has them all)
STEP_NAMES = {
    "request_to_shipment": gettext_lazy("Request to shipment"),
    "shipment_to_receipt": gettext_lazy("Shipment to receipt"),
    "receipt_to_inspection": gettext_lazy("Receipt to inspection"),
    "inspection_to_refund": gettext_lazy("Inspection to refund"),
    "end_to_end": gettext_lazy("End to end"),
}
GROUP_NAMES = {
    "sku": gettext_lazy("SKU"),
    "category": gettext_lazy("Category"),
    "reason": gettext_lazy("Reason"),
    "channel": gettext_lazy("Channel"),
    "period": gettext_lazy("Period"),
}
PERIOD_CHOICES = [
    ("", gettext_lazy("By the range's length")),
    ("day", gettext_lazy("Day")),
    ("week", gettext_lazy("Week")),
    ("month", gettext_lazy("Month")),
]


class RangeForm(forms.Form):
    """The date range (the merchant's local days) and how periods are grouped."""

    period = forms.ChoiceField(
        choices=PERIOD_CHOICES, required=False, label=gettext_lazy("Periods")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {
            "from": forms.DateField(required=False, label=gettext_lazy("From")),
            "to": forms.DateField(required=False, label=gettext_lazy("To")),
            **self.fields,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("from"), data.get("to")
        if first and last and first > last:
            self.add_error("from", _("The range starts after it ends."))
        elif first and last and (last - first).days + 1 > MAX_DAYS:
            self.add_error("from", _("A range is at most %(days)s days.") % {"days": MAX_DAYS})
        return data


class DefectsForm(forms.Form):
    """The early warning is read as of a day (the last of a range): only that day is asked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"] = forms.DateField(required=False, label=gettext_lazy("As of"))


class RatesForm(RangeForm):
    group_by = forms.ChoiceField(
        choices=[(g, GROUP_NAMES[g]) for g in GROUP_BYS], required=False, label=gettext_lazy("By")
    )
    min_units = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, label=gettext_lazy("Rank from units sold")
    )


def _today(seat: Seat) -> date:
    return timezone.now().astimezone(ZoneInfo(seat.merchant.timezone)).date()


def _range(seat: Seat, form: forms.Form) -> tuple[date, date]:
    data = form.cleaned_data if form.is_valid() else {}
    last = data.get("to") or _today(seat)
    first = data.get("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last or (last - first).days + 1 > MAX_DAYS:
        last = _today(seat)
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    return first, last


def _switched(request: HttpRequest, seat: Seat, name: str) -> HttpResponse | None:
    """Staff of several merchants pick one in the filters: the same page and range there."""
    wanted = request.GET.get("merchant", "")
    if not wanted or wanted == seat.merchant.slug:
        return None
    if not any(m.slug == wanted for m in seat.merchants):
        raise Http404
    query = _query(request.GET)
    return HttpResponseRedirect(reverse(name, args=[wanted]) + (f"?{query}" if query else ""))


def analytics_page(url_name: str = "") -> Callable[[View], View]:
    """Every analytics page: the permission, GET only, the merchant's scope and, for a page
    with filters (`url_name`), the merchant picked in them."""

    def decorate(view: View) -> View:
        @console_page(perm.ANALYTICS_VIEW, methods=("GET",))
        @functools.wraps(view)
        def wrapped(request: HttpRequest, seat: Seat, **kwargs: Any) -> HttpResponse:
            switched = _switched(request, seat, url_name) if url_name else None
            if switched is not None:
                return switched
            with merchant_scope(seat.merchant):
                return view(request, seat, **kwargs)

        return wrapped

    return decorate


def _query(params: QueryDict, **changes: str) -> str:
    kept = params.copy()
    kept.pop("merchant", None)
    for name, value in changes.items():
        kept[name] = value
    return kept.urlencode()


def duration(seconds: Fraction | None) -> str:
    """Seconds as days and hours (2 d 5 h), or hours and minutes under a day."""
    if seconds is None:
        return "\u2013"
    minutes = round(seconds / 60)
    hours_, minute = divmod(minutes, 60)
    days, hour = divmod(hours_, 24)
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hour}
    if minute == 0:
        return _("%(h)s h") % {"h": hour}
    return _("%(h)s h %(m)s min") % {"h": hour, "m": minute}


def _number(value: Fraction | None) -> float:
    return float(value) if value is not None else 0.0


def _label(start: date, period: str) -> str:
    """A period's short label under a column: 2026-03 for a month, 03-09 for a day or week."""
    return start.strftime("%Y-%m") if period == "month" else start.strftime("%m-%d")


def _described(bars: list[Bar]) -> str:
    return "; ".join(f"{b.label}: {b.text}" for b in bars)


def _safe(svg: str) -> Any:
    """A chart's markup for the template (every text in it is escaped); empty stays empty."""
    return mark_safe(svg) if svg else ""  # noqa: S308


def _charts(summary: Summary) -> dict[str, Any]:
    """The overview's charts, each with a text alternative that states its figures; a chart
    with nothing to show is left out (its table says so)."""
    periods, period = summary.periods, summary.period
    every = max(1, -(-len(periods) // 12))
    rate_bars = [
        Bar(_label(p.start, period), _number(p.units_rate) * 100, percent(p.units_rate))
        for p in periods
    ]
    codes = summary.reason_codes
    reason_bars = [
        Bar(r.key, r.units_returned, f"{r.units_returned} ({percent(r.share)})")
        for r in summary.reasons
    ]
    cycle_bars = [
        Bar(str(STEP_NAMES[c.step]), _number(c.p50) / 3600, duration(c.p50))
        for c in summary.cycle_times
    ]
    units = summary.dispositions.units
    mix_bars = [
        Bar(r.option, r.units, f"{r.units} ({percent(Fraction(r.units, units))})")
        for r in summary.dispositions.rows
    ]
    method_bars = [
        Bar(r.key, float(r.amount.to_decimal()), r.amount.format("en"))
        for r in summary.money.refunds
    ]
    charts = {
        "rate_svg": column_chart(
            chart_id="chart-rate",
            title=_("Return rate per %(period)s") % {"period": period},
            description=_("Units returned over units sold, per %(period)s starting: %(values)s.")
            % {"period": period, "values": _described(rate_bars)},
            bars=rate_bars,
            label_every=every,
        )
        if any(p.units_sold for p in periods)
        else "",
        "reasons_time_svg": stacked_column_chart(
            chart_id="chart-reasons-time",
            title=_("Units returned per %(period)s, by reason") % {"period": period},
            description=_("Stacked columns, one per %(period)s; the table below has each figure.")
            % {"period": period},
            series=codes,
            columns=[
                Column(_label(p.start, period), tuple(float(p.reasons.get(c, 0)) for c in codes))
                for p in periods
            ],
        )
        if codes
        else "",
        "reasons_svg": bar_chart(
            chart_id="chart-reasons",
            title=_("Units returned by reason"),
            description=_described(reason_bars),
            bars=reason_bars,
        )
        if reason_bars
        else "",
        "cycle_svg": bar_chart(
            chart_id="chart-cycle",
            title=_("Cycle times, median (p50)"),
            description=_described(cycle_bars),
            bars=cycle_bars,
        )
        if any(c.returns for c in summary.cycle_times)
        else "",
        "dispositions_svg": bar_chart(
            chart_id="chart-dispositions",
            title=_("Disposition mix, units"),
            description=_described(mix_bars),
            bars=mix_bars,
        )
        if mix_bars
        else "",
        "methods_svg": bar_chart(
            chart_id="chart-methods",
            title=_("Refunded by method"),
            description=_described(method_bars),
            bars=method_bars,
        )
        if method_bars
        else "",
    }
    found = {name: _safe(svg) for name, svg in charts.items()}
    found["reasons_legend"] = _safe(legend(codes) if codes else "")
    return found


def _nav(seat: Seat, params: QueryDict) -> list[tuple[str, str, Any]]:
    query = _query(params)
    suffix = f"?{query}" if query else ""
    pages = (
        ("analytics", gettext_lazy("Overview")),
        ("analytics_rates", gettext_lazy("Return rates")),
        ("analytics_defects", gettext_lazy("Defect trends")),
    )
    return [
        (name, reverse(f"console:{name}", args=[seat.merchant.slug]) + suffix, label)
        for name, label in pages
    ]


def _context(
    seat: Seat, request: HttpRequest, form: forms.Form, here: str, **extra: Any
) -> dict[str, Any]:
    first, last = _range(seat, form)
    with_range = request.GET.copy()
    with_range["from"], with_range["to"] = first.isoformat(), last.isoformat()
    return page_context(
        seat,
        form=form,
        first=first,
        last=last,
        here=here,
        analytics_nav=_nav(seat, request.GET),
        as_of=selectors.rollups_as_of(merchant=seat.merchant),
        export_query=_query(with_range),
        pick_merchant=len(seat.merchants) > 1,
        **extra,
    )


@analytics_page("console:analytics")
def overview(request: HttpRequest, seat: Seat) -> HttpResponse:
    form = RangeForm(request.GET)
    first, last = _range(seat, form)
    period = form.cleaned_data.get("period") if form.is_valid() else None
    summary = selectors.analytics_summary(
        merchant=seat.merchant, first=first, last=last, period=period or None
    )
    dispositions = summary.dispositions
    return render(
        request,
        "console/analytics/overview.html",
        _context(
            seat,
            request,
            form,
            "analytics",
            summary=summary,
            rate=summary.return_rate,
            cycle=[
                (STEP_NAMES[c.step], c, duration(c.p50), duration(c.p90))
                for c in summary.cycle_times
            ],
            mix=[
                (r, percent(Fraction(r.units, dispositions.units)), percent(r.recovery_rate))
                for r in dispositions.rows
            ],
            can_set_cost=seat.can(perm.MERCHANT_SETTINGS),
            periods=[
                (p, [p.reasons.get(c, 0) for c in summary.reason_codes], percent(p.units_rate))
                for p in summary.periods
            ],
            **_charts(summary),
        ),
    )


@analytics_page("console:analytics_rates")
def rates(request: HttpRequest, seat: Seat) -> HttpResponse:
    form = RatesForm(request.GET)
    first, last = _range(seat, form)
    data = form.cleaned_data if form.is_valid() else {}
    group_by = data.get("group_by") or "sku"
    min_units = data.get("min_units") or MIN_UNITS_SOLD
    rows = selectors.return_rates(
        merchant=seat.merchant,
        first=first,
        last=last,
        group_by=group_by,
        min_units=min_units,
        period=data.get("period") or None,
    )
    ranked = [r for r in rows if r.ranked] if group_by in {"sku", "category"} else rows
    bars = [
        Bar(r.key, _number(r.units_rate) * 100, percent(r.units_rate)) for r in ranked[:WORST_SHOWN]
    ]
    chart = bar_chart(
        chart_id="chart-rates",
        title=_("Return rate by %(group)s, worst first") % {"group": GROUP_NAMES[group_by]},
        description="; ".join(f"{b.label}: {b.text}" for b in bars) or _("Nothing to rank."),
        bars=bars,
    )
    return render(
        request,
        "console/analytics/rates.html",
        _context(
            seat,
            request,
            form,
            "analytics_rates",
            group_by=group_by,
            group_name=GROUP_NAMES[group_by],
            min_units=min_units,
            rows=[
                (r, percent(r.units_rate), percent(r.value_rate), percent(r.share))
                for r in rows[:ROWS_SHOWN]
            ],
            total=len(rows),
            shown=min(len(rows), ROWS_SHOWN),
            rates_svg=_safe(chart if bars else ""),
            ranks=group_by in {"sku", "category"},
        ),
    )


@analytics_page("console:analytics_defects")
def defects(request: HttpRequest, seat: Seat) -> HttpResponse:
    form = DefectsForm(request.GET)
    __, last = _range(seat, form)
    found = selectors.defect_trends(merchant=seat.merchant, as_of=last)
    shown = [f for f in found if f.warning.p_value is not None][:WORST_SHOWN]
    bars = [
        Bar(
            f.sku,
            _number(f.warning.window.rate) * 100,
            _("%(rate)s against %(expected)s")
            % {
                "rate": percent(f.warning.window.rate),
                "expected": percent(f.warning.expected_rate),
            },
        )
        for f in shown
    ]
    chart = bar_chart(
        chart_id="chart-defects",
        title=_("Defect rate over the last 14 days, SKUs tested"),
        description="; ".join(f"{b.label}: {b.text}" for b in bars) or _("No SKU was tested."),
        bars=bars,
    )
    return render(
        request,
        "console/analytics/defects.html",
        _context(
            seat,
            request,
            form,
            "analytics_defects",
            as_of_day=last,
            window_first=last - timedelta(days=13),
            baseline_first=last - timedelta(days=103),
            baseline_last=last - timedelta(days=14),
            flags=[
                (
                    f,
                    percent(f.warning.window.rate),
                    percent(f.warning.baseline.rate),
                    percent(f.warning.category_rate),
                    percent(f.warning.expected_rate),
                    "\u2013" if f.warning.p_value is None else f"{f.warning.p_value:.2g}",
                )
                for f in found[:ROWS_SHOWN]
            ],
            flagged=sum(1 for f in found if f.warning.flagged),
            total=len(found),
            defects_svg=_safe(chart if bars else ""),
        ),
    )


@console_page(perm.MERCHANT_SETTINGS, methods=("POST",))
def settings_save(request: HttpRequest, seat: Seat) -> HttpResponse:
    """The processing cost per return, in the merchant's currency (e.g. 3.50)."""
    back = reverse("console:analytics", args=[seat.merchant.slug])
    query = request.POST.get("query", "")
    try:
        cost = Money.from_decimal(request.POST.get("processing_cost", ""), seat.merchant.currency)
        analytics_settings_update(
            merchant=seat.merchant, processing_cost_amount=cost.amount, actor=seat.actor
        )
    except (MoneyError, ApplicationError) as exc:
        messages.error(request, _("The processing cost was not saved: %(why)s") % {"why": exc})
    else:
        messages.success(
            request,
            _("Each received return now costs %(cost)s to process.") % {"cost": cost.format("en")},
        )
    return HttpResponseRedirect(back + (f"?{query}#cost-heading" if query else "#cost-heading"))


EXPORTS = (*tables.SUMMARY_TABLES, "return_rates", "defect_trends")


def _download(table: Table, seat: Seat, first: date, last: date) -> HttpResponse:
    response = StreamingHttpResponse(csv_lines(table), content_type="text/csv; charset=utf-8")
    name = f"{table.name}-{seat.merchant.slug}-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]  # console_page passes any response through


@analytics_page()
def export(request: HttpRequest, seat: Seat, table: str) -> HttpResponse:
    """One table of the pages as CSV, for the same range and grouping."""
    if table not in EXPORTS:
        raise Http404
    form = RatesForm(request.GET)
    first, last = _range(seat, form)
    data = form.cleaned_data if form.is_valid() else {}
    period = data.get("period") or None
    merchant = seat.merchant
    if table == "return_rates":
        group_by = data.get("group_by") or "sku"
        rows = selectors.return_rates(
            merchant=merchant,
            first=first,
            last=last,
            group_by=group_by,
            min_units=data.get("min_units") or MIN_UNITS_SOLD,
            period=period,
        )
        found = tables.rates_table(rows, group_by, merchant.currency)
    elif table == "defect_trends":
        found = tables.defects_table(selectors.defect_trends(merchant=merchant, as_of=last))
    else:
        summary = selectors.analytics_summary(
            merchant=merchant, first=first, last=last, period=period
        )
        found = tables.summary_table(summary, table)
    return _download(found, seat, first, last)


urlpatterns = [
    path("m/<slug:slug>/analytics/", overview, name="analytics"),
    path("m/<slug:slug>/analytics/return-rates/", rates, name="analytics_rates"),
    path("m/<slug:slug>/analytics/defects/", defects, name="analytics_defects"),
    path("m/<slug:slug>/analytics/export/<slug:table>.csv", export, name="analytics_export"),
    path("m/<slug:slug>/analytics/settings/", settings_save, name="analytics_settings"),
]
