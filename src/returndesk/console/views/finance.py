"""Finance pages (issue 7): refunds by status with the action each allows (mark a manual refund
paid, retry a failed one), one refund's calculation line by line with its attempts, adjustments
and their resolution, the reconciliation CSV, and issuing what is due from a return's page.
Each view calls one refunds selector or service; the services hold the rules and the audit."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
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
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.core.codes import RanInvalid, format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.money import Money
from returndesk.core.tenancy import merchant_scope
from returndesk.refunds import selectors, services
from returndesk.refunds.execution import refunds_execute_now
from returndesk.refunds.models import (
    ADJUSTMENT_ACTIONS,
    FAILED,
    KIND_MANUAL,
    OPEN,
    PENDING,
    REFUND_STATUSES,
    RESOLVED,
    Refund,
)
from returndesk.refunds.tenders import TENDER_METHODS
from returndesk.returns import selectors as return_selectors
from returndesk.returns.models import Return
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant

PAGE = 50
PROVIDERS = ("manual", "stripe", "paypal", "store_credit", "gift_card")
# The CSV's columns: the selector's, with the amount also written as a decimal beside the minor
# units (27.21 for 2721 USD, 2721 for 2721 JPY), the way a spreadsheet or a bank statement
# shows it. docs/finance.md.
CSV_COLUMNS = (
    *selectors.EXPORT_COLUMNS[: selectors.EXPORT_COLUMNS.index("amount") + 1],
    "amount_decimal",
    *selectors.EXPORT_COLUMNS[selectors.EXPORT_COLUMNS.index("amount") + 1 :],
)
# A cell a spreadsheet would run as a formula; text from outside (a provider's message, a SKU)
# is written with a leading apostrophe instead.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def status_names() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "processing": _("Processing"),
        "succeeded": _("Succeeded"),
        "failed": _("Failed"),
    }


def action_names() -> dict[str, str]:
    return {
        "charge_back": _("Charge back"),
        "carrier_claim": _("Carrier claim"),
        "write_off": _("Write off"),
    }


def _any(choices: Callable[[], list[tuple[str, str]]]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [("", _("any")), *choices()]


class RefundFilters(forms.Form):
    """The refunds list's filters (and the export's), all optional."""

    status = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Status"),
        choices=_any(lambda: list(status_names().items())),
    )
    provider = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Paid through"),
        choices=_any(lambda: [(p, p) for p in PROVIDERS]),
    )
    method = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Payment method"),
        choices=_any(lambda: [(m, m) for m in TENDER_METHODS]),
    )
    created_from = forms.DateField(required=False, label=gettext_lazy("Created from"))
    created_to = forms.DateField(required=False, label=gettext_lazy("Created to"))

    def clean_created_to(self) -> Any:
        last = self.cleaned_data.get("created_to")
        first = self.cleaned_data.get("created_from")
        if first and last and first > last:
            raise forms.ValidationError(_("The end date is before the start date."))
        return last


def _query(merchant: Merchant, data: Mapping[str, Any]) -> dict[str, Any]:
    """The selector's filters from the form, the period in the merchant's time zone."""
    first, last = return_selectors.local_day_bounds(
        merchant=merchant, first=data.get("created_from"), last=data.get("created_to")
    )
    return {
        "provider": data.get("provider") or None,
        "method": data.get("method") or None,
        "created_from": first,
        "created_to": last,
    }


def _querystring(params: QueryDict, **changes: str) -> str:
    """The page's query string with `changes` (an empty value drops the parameter)."""
    kept = params.copy()
    for name in ("page", "merchant", *changes):
        kept.pop(name, None)
    for name, value in changes.items():
        if value:
            kept[name] = value
    return kept.urlencode()


def _switched(request: HttpRequest, seat: Seat, name: str) -> HttpResponse | None:
    """Provider staff filter by merchant: the same page and filters at the chosen merchant."""
    wanted = request.GET.get("merchant", "")
    if not wanted or wanted == seat.merchant.slug:
        return None
    if not any(m.slug == wanted for m in seat.merchants):
        raise Http404
    query = _querystring(request.GET)
    return HttpResponseRedirect(reverse(name, args=[wanted]) + (f"?{query}" if query else ""))


def _row(seat: Seat, refund: Refund) -> dict[str, Any]:
    return {
        "refund": refund,
        "ran": format_ran(refund.return_request.ran),
        "status_name": status_names().get(refund.status, refund.status),
        # a manual refund waiting for finance, or a failed one finance found paid at the provider
        "can_mark_paid": seat.can(perm.REFUNDS_MARK_PAID)
        and (refund.status == FAILED or (refund.kind == KIND_MANUAL and refund.status == PENDING)),
        "can_retry": seat.can(perm.REFUNDS_RETRY) and refund.status == FAILED,
    }


def _order_number(refund: Refund) -> str:
    ret = refund.return_request
    return ret.order.order_number if ret.order is not None else ret.claimed_order_number


@console_page(perm.REFUNDS_VIEW, methods=("GET",))
def refunds(request: HttpRequest, seat: Seat) -> HttpResponse:
    switched = _switched(request, seat, "console:finance_refunds")
    if switched is not None:
        return switched
    form = RefundFilters(request.GET)
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    page = None
    status = ""
    with merchant_scope(seat.merchant):
        if form.is_valid():
            status = form.cleaned_data["status"]
            filters = _query(seat.merchant, form.cleaned_data)
            counts = selectors.refunds_status_counts(**filters)
            found = selectors.refunds_query(status=status or None, **filters).order_by(
                "-created_at", "-pk"
            )
            page = Paginator(found, PAGE).get_page(request.GET.get("page"))
            rows = [_row(seat, r) for r in page.object_list]
    names = status_names()
    tabs = [
        ("", _("All"), sum(counts.values()), _querystring(request.GET, status=""), not status),
        *[
            (s, names[s], counts.get(s, 0), _querystring(request.GET, status=s), s == status)
            for s in REFUND_STATUSES
        ],
    ]
    here = request.get_full_path()
    return render(
        request,
        "console/finance_refunds.html",
        page_context(
            seat,
            form=form,
            tabs=tabs,
            status=status,
            rows=rows,
            page=page,
            pages_query=_querystring(request.GET),
            export_query=_querystring(request.GET),
            can_export=seat.can(perm.REFUNDS_EXPORT),
            here=here,
        ),
    )


def _refund(refund_id: str) -> Refund:
    try:
        return selectors.refund_get(refund_id)
    except NotFound:
        raise Http404 from None


@console_page(perm.REFUNDS_VIEW, methods=("GET",))
def refund_detail(request: HttpRequest, seat: Seat, refund_id: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        refund = _refund(refund_id)
        settlement = refund.settlement
        siblings = [
            _row(seat, r)
            for r in selectors.refunds_of(refund.return_request)
            if r.settlement_id == settlement.pk
        ]
    calculation = settlement.calculation
    return render(
        request,
        "console/finance_refund.html",
        page_context(
            seat,
            **_row(seat, refund),
            order=_order_number(refund),
            settlement=settlement,
            calc=calculation,
            siblings=siblings,
            attempts=sorted(refund.attempt_rows.all(), key=lambda a: a.number),
            here=request.get_full_path(),
        ),
    )


def _back(request: HttpRequest, seat: Seat, fallback: str) -> HttpResponseRedirect:
    """Back to the page the form was on (its filters kept), when that is one of this seat's
    console pages; else to `fallback`."""
    wanted = request.POST.get("next", "")
    prefix = reverse("console:home", args=[seat.merchant.slug])
    if wanted.startswith(prefix) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}
    ):
        return HttpResponseRedirect(wanted)
    return HttpResponseRedirect(fallback)


def _act(
    request: HttpRequest, seat: Seat, action: Callable[[], str], refused: str, back: str
) -> HttpResponse:
    """One finance action in the merchant's scope: `action` calls the service and answers the
    message to show; a refusal shows `refused` and why; an object the scope does not hold (an
    unknown one, another merchant's) is a 404. Then back to the page the form was on."""
    with merchant_scope(seat.merchant):
        try:
            done = action()
        except NotFound:
            raise Http404 from None
        except ApplicationError as exc:
            messages.error(request, f"{refused} {exc.detail}")
        else:
            messages.success(request, done)
    return _back(request, seat, back)


@console_page(perm.REFUNDS_MARK_PAID, methods=("POST",))
def refund_mark_paid(request: HttpRequest, seat: Seat, refund_id: str) -> HttpResponse:
    def mark_paid() -> str:
        refund = services.refund_mark_paid(
            refund_id=refund_id,
            reference=request.POST.get("reference", ""),
            note=request.POST.get("note", "").strip(),
            actor=seat.actor,
        )
        return _("%(id)s: %(amount)s marked paid with reference %(reference)s.") % {
            "id": refund.public_id,
            "amount": Money(refund.amount, refund.currency).format("en"),
            "reference": refund.provider_reference,
        }

    refused = _("%(id)s: not marked paid.") % {"id": refund_id}
    detail = reverse("console:finance_refund", args=[seat.merchant.slug, refund_id])
    return _act(request, seat, mark_paid, refused, detail)


@console_page(perm.REFUNDS_RETRY, methods=("POST",))
def refund_retry(request: HttpRequest, seat: Seat, refund_id: str) -> HttpResponse:
    def retry() -> str:
        services.refund_retry(refund_id=refund_id, actor=seat.actor)
        refunds_execute_now([refund_id])  # a provider refund is called again at once
        status = _refund(refund_id).status
        return _("%(id)s: retried; it is now %(status)s.") % {
            "id": refund_id,
            "status": status_names().get(status, status).lower(),
        }

    refused = _("%(id)s: not retried.") % {"id": refund_id}
    detail = reverse("console:finance_refund", args=[seat.merchant.slug, refund_id])
    return _act(request, seat, retry, refused, detail)


# --- the reconciliation export ----------------------------------------------------------------


class _Echo:
    """A file that hands back what is written: csv.writer's rows as strings to stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_lines(merchant: Merchant, status: str, filters: dict[str, Any]) -> Iterator[str]:
    """The export, a row at a time: the scope is entered here because the rows are read while
    the response streams, after the view has returned."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    with merchant_scope(merchant):
        found = selectors.refunds_query(status=status or None, **filters)
        for row in selectors.refunds_export_rows(found):
            row["amount_decimal"] = Money(row["amount"], row["currency"]).to_decimal()
            yield writer.writerow([_cell(row[name]) for name in CSV_COLUMNS])


@console_page(perm.REFUNDS_EXPORT, methods=("GET",))
def refunds_export(request: HttpRequest, seat: Seat) -> HttpResponse:
    """The filtered refunds as CSV, one row per refund (one tender's part of a settlement)."""
    form = RefundFilters(request.GET)
    if not form.is_valid():
        messages.error(request, _("Some filters need fixing before the export."))
        query = _querystring(request.GET)
        url = reverse("console:finance_refunds", args=[seat.merchant.slug])
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    filters = _query(seat.merchant, form.cleaned_data)
    stamp = timezone.localtime(timezone=ZoneInfo(seat.merchant.timezone)).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        _csv_lines(seat.merchant, form.cleaned_data["status"], filters),
        content_type="text/csv; charset=utf-8",
    )
    name = f"refunds-{seat.merchant.slug}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]  # console_page passes any response through


# --- adjustments -------------------------------------------------------------------------------


@console_page(perm.REFUNDS_VIEW, methods=("GET",))
def adjustments(request: HttpRequest, seat: Seat) -> HttpResponse:
    switched = _switched(request, seat, "console:finance_adjustments")
    if switched is not None:
        return switched
    status = request.GET.get("status", OPEN)
    status = status if status in (OPEN, RESOLVED, "all") else OPEN
    with merchant_scope(seat.merchant):
        found = selectors.adjustments_query(status=None if status == "all" else status)
        page = Paginator(found.order_by("-created_at", "-pk"), PAGE).get_page(
            request.GET.get("page")
        )
        names = action_names()
        rows = [
            (format_ran(a.return_request.ran), a, names.get(a.action, a.action))
            for a in page.object_list
        ]
    return render(
        request,
        "console/finance_adjustments.html",
        page_context(
            seat,
            rows=rows,
            page=page,
            status=status,
            tabs=[
                (OPEN, _("Open")),
                (RESOLVED, _("Resolved")),
                ("all", _("All")),
            ],
            actions=[(a, names[a]) for a in ADJUSTMENT_ACTIONS],
            can_resolve=seat.can(perm.ADJUSTMENTS_RESOLVE),
            pages_query=_querystring(request.GET),
            here=request.get_full_path(),
        ),
    )


@console_page(perm.ADJUSTMENTS_RESOLVE, methods=("POST",))
def adjustment_resolve(request: HttpRequest, seat: Seat, adjustment_id: str) -> HttpResponse:
    def resolve() -> str:
        adjustment = services.adjustment_resolve(
            adjustment_id=adjustment_id,
            action=request.POST.get("action", ""),
            note=request.POST.get("note", ""),
            actor=seat.actor,
        )
        return _("%(id)s: resolved by %(action)s.") % {
            "id": adjustment.public_id,
            "action": action_names()[adjustment.action].lower(),
        }

    refused = _("%(id)s: not resolved.") % {"id": adjustment_id}
    listed = reverse("console:finance_adjustments", args=[seat.merchant.slug])
    return _act(request, seat, resolve, refused, listed)


# --- a return's money ---------------------------------------------------------------------------


def return_money(seat: Seat, ret: Return) -> dict[str, Any]:
    """The Money section of a return's page (inside the merchant's scope): when the money is
    due and what is due now (or why nothing is), then what was settled and paid."""
    try:
        plan, problem = services.refund_plan(ret), ""
    except ApplicationError as exc:  # the order's figures disagree: say so, keep the page
        plan, problem = None, exc.detail
    return {
        "plan": plan,
        "due": plan.due.as_dict() if plan is not None and plan.due is not None else None,
        "problem": problem,
        "settlements": selectors.settlements_of(ret),
        "refunds": [_row(seat, r) for r in selectors.refunds_of(ret)],
        "adjustments": selectors.adjustments_of(ret),
        "exchanges": selectors.exchanges_of(ret),
        "can_issue": seat.can(perm.REFUNDS_ISSUE) and plan is not None and plan.due is not None,
        "can_view_refunds": seat.can(perm.REFUNDS_VIEW),
    }


@console_page(perm.REFUNDS_ISSUE, methods=("POST",))
def return_refunds_issue(request: HttpRequest, seat: Seat, ran: str) -> HttpResponse:
    """Issue what is due now for a return, exactly once (the service locks the return), then
    pay the provider refunds it wrote; the worker finishes whatever this does not."""
    with merchant_scope(seat.merchant):
        try:
            ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
        except (NotFound, RanInvalid):
            raise Http404 from None
        try:
            settlement = services.refunds_settle(ret=ret, actor=seat.actor)
        except (services.NotDueYet, services.NothingDue) as exc:
            messages.warning(request, exc.detail)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            ids = [r.public_id for r in settlement.refunds.all()]
            refunds_execute_now(ids)
            messages.success(
                request,
                _("Issued %(total)s in %(count)d refund(s): settlement %(number)d.")
                % {
                    "total": Money(settlement.total_amount, settlement.currency).format("en"),
                    "count": len(ids),
                    "number": settlement.number,
                },
            )
    url = reverse("console:return", args=[seat.merchant.slug, format_ran(ret.ran)])
    return HttpResponseRedirect(f"{url}#money")


urlpatterns = [
    path("m/<slug:slug>/finance/refunds/", refunds, name="finance_refunds"),
    path("m/<slug:slug>/finance/refunds.csv", refunds_export, name="finance_refunds_export"),
    path("m/<slug:slug>/finance/refunds/<str:refund_id>/", refund_detail, name="finance_refund"),
    path(
        "m/<slug:slug>/finance/refunds/<str:refund_id>/mark-paid/",
        refund_mark_paid,
        name="finance_refund_mark_paid",
    ),
    path(
        "m/<slug:slug>/finance/refunds/<str:refund_id>/retry/",
        refund_retry,
        name="finance_refund_retry",
    ),
    path("m/<slug:slug>/finance/adjustments/", adjustments, name="finance_adjustments"),
    path(
        "m/<slug:slug>/finance/adjustments/<str:adjustment_id>/resolve/",
        adjustment_resolve,
        name="finance_adjustment_resolve",
    ),
    path(
        "m/<slug:slug>/finance/returns/<str:ran>/issue/",
        return_refunds_issue,
        name="finance_return_issue",
    ),
]
