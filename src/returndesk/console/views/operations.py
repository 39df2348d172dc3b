"""The provider's operations pages: the facility dashboard, SLA breaches and settings, facility
calendars, and client billing (fee schedules and monthly statements).

Provider pages live under a seat's slug like every console page; what they show is narrowed to
the merchants the seat may switch to (every active merchant for provider-wide roles). Charts are
SVG drawn on the server (returndesk.operations.charts) with the figures in a table beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.console.access import Seat
from returndesk.console.views.admin import field_errors, form_status, problem_for
from returndesk.console.views.common import console_page, page_context
from returndesk.core.codes import format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.money import Money, MoneyError, validate_currency
from returndesk.operations import selectors, services
from returndesk.operations.billing import parse_period, statement_build
from returndesk.operations.calendar import country_known, public_holidays
from returndesk.operations.charts import Bar, bar_chart, column_chart
from returndesk.operations.documents import Statement, render_csv, render_pdf
from returndesk.operations.models import (
    DISPOSE_AFTER_INSPECTION,
    DISPOSITION_FEE_PREFIX,
    FEE_INSPECTION,
    FEE_LABEL,
    FEE_RETURN,
    FEE_STORAGE,
    FEES,
    INSPECT_AFTER_RECEIPT,
    REFUND_AFTER_INSPECTION,
    SLA_KINDS,
)
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility, Merchant

DEFAULT_DAYS = 7
MAX_DAYS = 366
PAGE_SIZE = 50
STATEMENT_PREVIEW = 200

STAGE_NAMES = {
    selectors.AWAITING_RECEIPT: gettext_lazy("Awaiting receipt"),
    selectors.AWAITING_INSPECTION: gettext_lazy("Received, not inspected"),
    selectors.AWAITING_DISPOSITION: gettext_lazy("Inspected, not dispositioned"),
    selectors.AWAITING_REFUND: gettext_lazy("Awaiting refund"),
}
SLA_NAMES = {
    INSPECT_AFTER_RECEIPT: gettext_lazy("Inspect after receipt"),
    DISPOSE_AFTER_INSPECTION: gettext_lazy("Disposition after inspection"),
    REFUND_AFTER_INSPECTION: gettext_lazy("Refund after inspection"),
}
SLA_HELP = {
    INSPECT_AFTER_RECEIPT: gettext_lazy(
        "From the package's receipt until every received unit is inspected."
    ),
    DISPOSE_AFTER_INSPECTION: gettext_lazy(
        "From the return's inspection until every unit has its disposition."
    ),
    REFUND_AFTER_INSPECTION: gettext_lazy(
        "From the return's inspection until the money is settled and the return completed."
    ),
}
DISPOSITION_NAMES = {
    "restock": gettext_lazy("restock"),
    "refurbish": gettext_lazy("refurbish"),
    "repair": gettext_lazy("repair"),
    "return_to_vendor": gettext_lazy("return to vendor"),
    "liquidate": gettext_lazy("liquidate"),
    "donate": gettext_lazy("donate"),
    "recycle": gettext_lazy("recycle"),
    "discard": gettext_lazy("discard"),
    "quarantine": gettext_lazy("quarantine"),
}


def fee_name(fee: str) -> str:
    if fee.startswith(DISPOSITION_FEE_PREFIX):
        option = fee.removeprefix(DISPOSITION_FEE_PREFIX)
        return _("Disposition: %(option)s") % {"option": DISPOSITION_NAMES.get(option, option)}
    names = {
        FEE_RETURN: _("Return processed"),
        FEE_LABEL: _("Label"),
        FEE_INSPECTION: _("Inspection"),
        FEE_STORAGE: _("Storage per day"),
    }
    return names.get(fee, fee)


def duration_text(span: timedelta | None) -> str:
    """A span as people read it on a dashboard: hours under two days, days above."""
    if span is None:
        return "\u2013"
    hours = span.total_seconds() / 3600
    if hours < 48:
        return _("%(hours)s h") % {"hours": f"{hours:.1f}"}
    return _("%(days)s days") % {"days": f"{hours / 24:.1f}"}


def _local(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz or "UTC")).strftime("%Y-%m-%d %H:%M")


def _visible(seat: Seat, slug: str) -> Merchant:
    """A merchant the seat may see, by slug; any other is a 404 like an unknown one."""
    found = next((m for m in seat.merchants if m.slug == slug), None)
    if found is None:
        raise Http404
    return found


# --- filters -----------------------------------------------------------------------------------


class OpsFilters(forms.Form):
    """The period, facility and merchant of an operations page, all optional."""

    facility = forms.ChoiceField(required=False, label=gettext_lazy("Facility"))
    merchant = forms.ChoiceField(required=False, label=gettext_lazy("Merchant"))
    date_from = forms.DateField(required=False, label=gettext_lazy("From"))
    date_to = forms.DateField(required=False, label=gettext_lazy("To"))

    def __init__(self, data: Any, *, seat: Seat, facilities: Sequence[Facility]) -> None:
        super().__init__(data)
        every: list[tuple[str, Any]] = [("", gettext_lazy("all"))]
        facility = self.fields["facility"]
        merchant = self.fields["merchant"]
        assert isinstance(facility, forms.ChoiceField)
        assert isinstance(merchant, forms.ChoiceField)
        facility.choices = [*every, *((f.code, f"{f.code} · {f.name}") for f in facilities)]
        merchant.choices = [*every, *((m.slug, m.name) for m in seat.merchants)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("The end date is before the start date."))
        elif first and last and (last - first).days >= MAX_DAYS:
            self.add_error("date_to", _("Choose at most a year."))
        return data


@dataclass(frozen=True)
class Chosen:
    scope: selectors.OpsScope
    form: OpsFilters
    facility: Facility | None
    tz: str
    first: date
    last: date
    query: str  # the filters as a query string, for links that keep them


def chosen_filters(request: HttpRequest, seat: Seat) -> Chosen:
    facilities = list(Facility.objects.order_by("code"))
    form = OpsFilters(request.GET or None, seat=seat, facilities=facilities)
    data: dict[str, Any] = form.cleaned_data if form.is_bound and form.is_valid() else {}
    facility = next((f for f in facilities if f.code == data.get("facility")), None)
    tz = facility.timezone if facility else "UTC"
    today = timezone.now().astimezone(ZoneInfo(tz)).date()
    last = data.get("date_to") or today
    first = data.get("date_from") or (last - timedelta(days=DEFAULT_DAYS - 1))
    merchants = [
        m for m in seat.merchants if not data.get("merchant") or m.slug == data["merchant"]
    ]
    zone = ZoneInfo(tz)
    scope = selectors.OpsScope(
        merchant_ids=tuple(m.pk for m in merchants),
        facility_id=facility.pk if facility else None,
        start=datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC),
        end=datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC),
    )
    keep = {
        "facility": facility.code if facility else "",
        "merchant": data.get("merchant", ""),
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
    }
    query = "&".join(f"{k}={v}" for k, v in keep.items() if v)
    return Chosen(scope, form, facility, tz, first, last, query)


OPS_PAGES = (
    ("dashboard", "console:operations", gettext_lazy("Dashboard"), perm.OPERATIONS_VIEW),
    ("breaches", "console:operations_breaches", gettext_lazy("SLA breaches"), perm.OPERATIONS_VIEW),
    ("slas", "console:operations_slas", gettext_lazy("SLAs"), perm.PROVIDER_SLAS),
    (
        "calendars",
        "console:operations_calendars",
        gettext_lazy("Facility calendars"),
        perm.PROVIDER_FACILITIES,
    ),
    ("billing", "console:billing", gettext_lazy("Billing"), perm.PROVIDER_BILLING),
)


def ops_page(seat: Seat, here: str, **extra: Any) -> dict[str, Any]:
    """The context of an operations page: the console's, and the operations pages this seat
    may open (`here` is the current one)."""
    nav = [
        (key, reverse(name, args=[seat.merchant.slug]), label)
        for key, name, label, needed in OPS_PAGES
        if seat.can(needed)
    ]
    return page_context(seat, ops_nav=nav, here=here, **extra)


def ops_context(seat: Seat, chosen: Chosen, here: str, **extra: Any) -> dict[str, Any]:
    return ops_page(
        seat,
        here,
        filters=chosen.form,
        period_first=chosen.first,
        period_last=chosen.last,
        period_tz=chosen.tz,
        chosen_facility=chosen.facility,
        keep=chosen.query,
        **extra,
    )


# --- the facility dashboard ----------------------------------------------------------------------


@console_page(perm.OPERATIONS_VIEW, methods=("GET",))
def dashboard(request: HttpRequest, seat: Seat) -> HttpResponse:
    chosen = chosen_filters(request, seat)
    figures = selectors.facility_dashboard(chosen.scope)
    backlog = [(STAGE_NAMES[stage], figures.backlog.get(stage, 0)) for stage in selectors.STAGES]
    waiting = sum(n for _, n in backlog)
    backlog_svg = bar_chart(
        chart_id="chart-backlog",
        title=_("Backlog by stage"),
        description=_("Returns waiting now: %(list)s.")
        % {"list": "; ".join(f"{name} {n}" for name, n in backlog)},
        bars=[Bar(str(name), n) for name, n in backlog],
    )
    busiest = max(figures.hours, key=lambda h: h.total)
    handled = sum(h.total for h in figures.hours)
    hours_svg = column_chart(
        chart_id="chart-hours",
        title=_("Throughput per hour of the day"),
        description=(
            _(
                "Receipts, inspections and dispositions per local hour of the day: "
                "%(total)s in all, the most (%(peak)s) between %(hour)s:00 and %(next)s:00."
            )
            % {
                "total": handled,
                "peak": busiest.total,
                "hour": f"{busiest.hour:02d}",
                "next": f"{(busiest.hour + 1) % 24:02d}",
            }
            if handled
            else _("Nothing was received, inspected or dispositioned in the period.")
        ),
        bars=[Bar(f"{h.hour:02d}", h.total) for h in figures.hours],
        label_every=2,
    )
    dock = figures.dock_to_stock
    dock_svg = column_chart(
        chart_id="chart-dock",
        title=_("Dock-to-stock time"),
        description=(
            _(
                "%(count)s units restocked; half within %(p50)s of their receipt, nine in ten "
                "within %(p90)s."
            )
            % {
                "count": dock.count,
                "p50": duration_text(dock.p50),
                "p90": duration_text(dock.p90),
            }
            if dock.count
            else _("No unit was restocked in the period.")
        ),
        bars=[Bar(_(label), n) for label, n in dock.buckets],
        height=180,
    )
    tz_of = {code: tz for code, tz in figures.facilities.values()}
    oldest = [
        {
            "stage": STAGE_NAMES[w.stage],
            "ran": w.ran,
            "merchant": w.merchant_slug,
            "facility": w.facility_code,
            "since": _local(w.since, tz_of.get(w.facility_code, chosen.tz)),
            "waited": duration_text(timezone.now() - w.since),
        }
        for w in figures.oldest[: selectors.OLDEST]
    ]
    return render(
        request,
        "console/operations/dashboard.html",
        ops_context(
            seat,
            chosen,
            "dashboard",
            backlog=backlog,
            waiting=waiting,
            backlog_svg=mark_safe(backlog_svg),  # noqa: S308 - built escaped by charts.py
            hours=figures.hours,
            hours_svg=mark_safe(hours_svg),  # noqa: S308
            workers=figures.workers,
            dock=dock,
            dock_p50=duration_text(dock.p50),
            dock_p90=duration_text(dock.p90),
            dock_buckets=[(_(label), n) for label, n in dock.buckets],
            dock_svg=mark_safe(dock_svg),  # noqa: S308
            oldest=oldest,
        ),
    )


# --- SLA breaches --------------------------------------------------------------------------------


@console_page(perm.OPERATIONS_VIEW, methods=("GET",))
def breaches(request: HttpRequest, seat: Seat) -> HttpResponse:
    chosen = chosen_filters(request, seat)
    kind = request.GET.get("kind", "")
    kind = kind if kind in SLA_KINDS else ""
    waiting = request.GET.get("waiting") == "1"
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    found = selectors.sla_breach_list(chosen.scope, kind=kind, still_waiting=waiting)
    rows = list(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    now = timezone.now()
    listed = [
        {
            "ran": format_ran(b.return_request.ran),
            "merchant": b.merchant.slug,
            "merchant_name": b.merchant.name,
            "facility": b.facility.code,
            "kind": SLA_NAMES.get(b.kind, b.kind),
            "days": b.business_days,
            "started": _local(b.started_at, b.facility.timezone),
            "due": _local(b.due_at, b.facility.timezone),
            "finished": _local(b.finished_at, b.facility.timezone),
            "late": duration_text((b.finished_at or now) - b.due_at),
        }
        for b in rows[:PAGE_SIZE]
    ]
    extra = "&".join(
        part
        for part in (chosen.query, f"kind={kind}" if kind else "", "waiting=1" if waiting else "")
        if part
    )
    return render(
        request,
        "console/operations/breaches.html",
        ops_context(
            seat,
            chosen,
            "breaches",
            breaches=listed,
            kinds=[(k, SLA_NAMES[k]) for k in SLA_KINDS],
            kind=kind,
            waiting=waiting,
            page=page,
            previous_page=page - 1 if page > 1 else None,
            next_page=page + 1 if more else None,
            page_query=extra,
        ),
    )


# --- SLA settings --------------------------------------------------------------------------------


@console_page(perm.PROVIDER_SLAS, methods=("GET",))
def slas(request: HttpRequest, seat: Seat) -> HttpResponse:
    levels = selectors.service_levels_by_merchant([m.pk for m in seat.merchants])
    rows = [
        {
            "merchant": m,
            "levels": [(SLA_NAMES[kind], levels.get(m.pk, {}).get(kind)) for kind in SLA_KINDS],
        }
        for m in seat.merchants
    ]
    return render(
        request,
        "console/operations/slas.html",
        ops_page(seat, "slas", rows=rows, kinds=[SLA_NAMES[k] for k in SLA_KINDS]),
    )


@console_page(perm.PROVIDER_SLAS)
def sla_edit(request: HttpRequest, seat: Seat, merchant_slug: str) -> HttpResponse:
    target = _visible(seat, merchant_slug)
    current = selectors.service_levels_by_merchant([target.pk]).get(target.pk, {})
    values = {kind: str(level.business_days) for kind, level in current.items()}
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = {kind: request.POST.get(kind, "").strip() for kind in SLA_KINDS}
        levels: dict[str, int | None] = {}
        for kind, text in values.items():
            if not text:
                levels[kind] = None
            elif text.isdigit():
                levels[kind] = int(text)
            else:
                errors[kind] = _("A whole number of business days, or empty for none.")
        if errors:
            problem, status = _("Check the fields marked below."), 422
        else:
            try:
                services.service_levels_set(actor=seat.actor, merchant=target, levels=levels)
            except ApplicationError as exc:
                errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
            else:
                messages.success(request, _("SLAs of %(name)s saved.") % {"name": target.name})
                return HttpResponseRedirect(
                    reverse("console:operations_slas", args=[seat.merchant.slug])
                )
    fields = [
        {
            "name": kind,
            "label": SLA_NAMES[kind],
            "help": SLA_HELP[kind],
            "value": values.get(kind, ""),
            "error": errors.get(kind, ""),
            "since": current[kind].effective_from if kind in current else None,
        }
        for kind in SLA_KINDS
    ]
    return render(
        request,
        "console/operations/sla_edit.html",
        ops_page(seat, "slas", target=target, fields=fields, problem=problem),
        status=status,
    )


# --- facility calendars --------------------------------------------------------------------------


@console_page(perm.PROVIDER_FACILITIES, methods=("GET",))
def calendars(request: HttpRequest, seat: Seat) -> HttpResponse:
    today = timezone.now().date()
    facilities = list(Facility.objects.order_by("code"))
    closed = selectors.closed_days_upcoming(since=today - timedelta(days=1))
    rows = [
        {
            "facility": f,
            "holidays_known": country_known(f.country),
            "closed": closed.get(f.pk, [])[:5],
            "closed_count": len(closed.get(f.pk, [])),
        }
        for f in facilities
    ]
    return render(
        request,
        "console/operations/calendars.html",
        ops_page(seat, "calendars", rows=rows),
    )


def _closed_text(reason: str | None, own: str) -> str:
    """Why a day is not a business day, as the calendar page says it (empty: it is one)."""
    if reason is None:
        return ""
    if reason == "weekend":
        return _("weekend")
    if reason == "closed":
        return _("closed: %(reason)s") % {"reason": own} if own else _("closed")
    return _("public holiday: %(name)s") % {"name": reason.removeprefix("holiday: ")}


class ClosedDayForm(forms.Form):
    day = forms.DateField(label=gettext_lazy("Day"))
    reason = forms.CharField(required=False, max_length=200, label=gettext_lazy("Reason"))


@console_page(perm.PROVIDER_FACILITIES)
def calendar(request: HttpRequest, seat: Seat, facility: str) -> HttpResponse:
    try:
        found = selectors.facility_get(facility)
    except NotFound:
        raise Http404 from None
    form = ClosedDayForm()
    status = 200
    if request.method == "POST":
        if request.POST.get("remove"):
            try:
                day = date.fromisoformat(request.POST["remove"])
                services.facility_closed_day_remove(actor=seat.actor, facility=found, day=day)
            except (ValueError, NotFound):
                messages.error(request, _("That day was not closed."))
            else:
                messages.success(request, _("%(day)s is a working day again.") % {"day": day})
            return HttpResponseRedirect(
                reverse("console:operations_calendar", args=[seat.merchant.slug, found.code])
            )
        form = ClosedDayForm(request.POST)
        if form.is_valid():
            try:
                services.facility_closed_day_add(
                    actor=seat.actor,
                    facility=found,
                    day=form.cleaned_data["day"],
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.detail)
                status = form_status(exc)
            else:
                messages.success(
                    request,
                    _("%(code)s is closed on %(day)s.")
                    % {"code": found.code, "day": form.cleaned_data["day"]},
                )
                return HttpResponseRedirect(
                    reverse("console:operations_calendar", args=[seat.merchant.slug, found.code])
                )
        else:
            status = 422
    today = timezone.now().astimezone(ZoneInfo(found.timezone or "UTC")).date()
    horizon = today + timedelta(days=365)
    holidays = public_holidays(found.country, today, horizon)
    cal = selectors.calendar_of(found)
    closed = list(selectors.closed_days_of(found, since=today))
    reasons = {c.day: c.reason for c in closed}
    upcoming = [
        {"day": day, "reason": _closed_text(cal.closed_reason(day), reasons.get(day, ""))}
        for day in (today + timedelta(days=n) for n in range(14))
    ]
    return render(
        request,
        "console/operations/calendar.html",
        ops_page(
            seat,
            "calendars",
            facility=found,
            form=form,
            closed=closed,
            holidays=holidays,
            holidays_known=country_known(found.country),
            upcoming=upcoming,
        ),
        status=status,
    )


# --- billing -------------------------------------------------------------------------------------


def _month(moment: date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _previous_month(moment: date) -> str:
    return _month(moment.replace(day=1) - timedelta(days=1))


@console_page(perm.PROVIDER_BILLING, methods=("GET",))
def billing(request: HttpRequest, seat: Seat) -> HttpResponse:
    rates = selectors.fee_rates_by_merchant([m.pk for m in seat.merchants])
    rows = []
    for m in seat.merchants:
        today = timezone.now().astimezone(ZoneInfo(m.timezone)).date()
        schedule = rates.get(m.pk, {})
        rows.append(
            {
                "merchant": m,
                "fees": len(schedule),
                "currency": next(iter(schedule.values())).currency if schedule else "",
                "this_month": _month(today),
                "last_month": _previous_month(today),
            }
        )
    return render(
        request,
        "console/operations/billing.html",
        ops_page(seat, "billing", rows=rows),
    )


def _major(amount: int, currency: str) -> str:
    return str(Money(amount, currency).to_decimal())


@console_page(perm.PROVIDER_BILLING)
def fee_schedule(request: HttpRequest, seat: Seat, merchant_slug: str) -> HttpResponse:
    target = _visible(seat, merchant_slug)
    if request.method == "GET" and request.GET.get("period"):
        try:
            year, month = parse_period(request.GET["period"])
        except ApplicationError:
            messages.error(request, _("Choose a month like 2026-11."))
        else:
            return HttpResponseRedirect(
                reverse(
                    "console:billing_statement",
                    args=[seat.merchant.slug, target.slug, f"{year:04d}-{month:02d}"],
                )
            )
    current = selectors.fee_rates_by_merchant([target.pk]).get(target.pk, {})
    currency = next(iter(current.values())).currency if current else target.currency
    values = {fee: _major(rate.amount, rate.currency) for fee, rate in current.items()}
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        currency = request.POST.get("currency", "").strip().upper()
        values = {fee: request.POST.get(fee, "").strip() for fee in FEES}
        rates: dict[str, int | None] = {}
        try:
            validate_currency(currency)
        except MoneyError as exc:
            errors["currency"] = str(exc)
        else:
            for fee, text in values.items():
                try:
                    rates[fee] = Money.from_decimal(text, currency).amount if text else None
                except MoneyError as exc:
                    errors[fee] = str(exc)
        if errors:
            problem, status = _("Check the fields marked below."), 422
        else:
            try:
                services.fee_schedule_set(
                    actor=seat.actor, merchant=target, currency=currency, rates=rates
                )
            except ApplicationError as exc:
                errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
            else:
                messages.success(
                    request, _("Fee schedule of %(name)s saved.") % {"name": target.name}
                )
                return HttpResponseRedirect(
                    reverse("console:billing_schedule", args=[seat.merchant.slug, target.slug])
                )
    fields = [
        {
            "name": fee,
            "label": fee_name(fee),
            "value": values.get(fee, ""),
            "error": errors.get(fee, ""),
        }
        for fee in FEES
    ]
    today = timezone.now().astimezone(ZoneInfo(target.timezone)).date()
    return render(
        request,
        "console/operations/fee_schedule.html",
        ops_page(
            seat,
            "billing",
            target=target,
            currency=currency,
            currency_error=errors.get("currency", ""),
            fields=fields,
            problem=problem,
            this_month=_month(today),
            last_month=_previous_month(today),
        ),
        status=status,
    )


def _statement(seat: Seat, merchant_slug: str, period: str) -> Statement:
    target = _visible(seat, merchant_slug)
    try:
        return statement_build(merchant=target, period=period)
    except ApplicationError:
        raise Http404 from None


@console_page(perm.PROVIDER_BILLING, methods=("GET",))
def statement(request: HttpRequest, seat: Seat, merchant_slug: str, period: str) -> HttpResponse:
    found = _statement(seat, merchant_slug, period)
    money = found.money
    totals = [
        {
            "fee": fee_name(t.fee),
            "lines": t.lines,
            "quantity": t.quantity,
            "amount": money(t.amount).format("en"),
        }
        for t in found.totals
    ]
    lines = [
        {
            "at": line.at.strftime("%Y-%m-%d %H:%M"),
            "fee": fee_name(line.fee),
            "description": line.description,
            "ran": line.ran,
            "reference": line.reference,
            "facility": line.facility,
            "quantity": line.quantity,
            "unit": money(line.unit_amount).format("en"),
            "amount": money(line.amount).format("en"),
        }
        for line in found.lines[:STATEMENT_PREVIEW]
    ]
    year, month = parse_period(period)
    first = date(year, month, 1)
    return render(
        request,
        "console/operations/statement.html",
        ops_page(
            seat,
            "billing",
            statement=found,
            target=_visible(seat, merchant_slug),
            totals=totals,
            total=money(found.total).format("en"),
            lines=lines,
            line_count=len(found.lines),
            truncated=len(found.lines) > STATEMENT_PREVIEW,
            preview=STATEMENT_PREVIEW,
            previous_period=_previous_month(first),
            next_period=_month(first + timedelta(days=32)),
        ),
    )


@console_page(perm.PROVIDER_BILLING, methods=("GET",))
def statement_file(
    request: HttpRequest, seat: Seat, merchant_slug: str, period: str, fmt: str
) -> HttpResponse:
    if fmt not in ("csv", "pdf"):
        raise Http404
    found = _statement(seat, merchant_slug, period)
    if fmt == "csv":
        response = HttpResponse(render_csv(found), content_type="text/csv; charset=utf-8")
    else:
        names = {fee: fee_name(fee) for fee in FEES}
        response = HttpResponse(render_pdf(found, fee_names=names), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{found.filename}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("m/<slug:slug>/operations/", dashboard, name="operations"),
    path("m/<slug:slug>/operations/sla-breaches/", breaches, name="operations_breaches"),
    path("m/<slug:slug>/operations/slas/", slas, name="operations_slas"),
    path(
        "m/<slug:slug>/operations/slas/<slug:merchant_slug>/",
        sla_edit,
        name="operations_sla_edit",
    ),
    path("m/<slug:slug>/operations/calendars/", calendars, name="operations_calendars"),
    path(
        "m/<slug:slug>/operations/calendars/<str:facility>/",
        calendar,
        name="operations_calendar",
    ),
    path("m/<slug:slug>/billing/", billing, name="billing"),
    path("m/<slug:slug>/billing/<slug:merchant_slug>/", fee_schedule, name="billing_schedule"),
    path(
        "m/<slug:slug>/billing/<slug:merchant_slug>/<str:period>/",
        statement,
        name="billing_statement",
    ),
    path(
        "m/<slug:slug>/billing/<slug:merchant_slug>/<str:period>/<str:fmt>/",
        statement_file,
        name="billing_statement_file",
    ),
]
