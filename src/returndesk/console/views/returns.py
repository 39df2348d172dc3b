"""Staff console pages: thin views over the same selectors and services as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context, photo_response
from returndesk.console.views.finance import return_money
from returndesk.core.codes import RanInvalid, format_ran, parse_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.emails import email_deliveries_of_return
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_document
from returndesk.returns import selectors as return_selectors
from returndesk.returns.models import (
    AUTHORIZED,
    CHANNELS,
    DELIVERED,
    IN_TRANSIT,
    INSPECTED,
    PENDING_REVIEW,
    RECEIVED,
    STATUSES,
)
from returndesk.returns.services import return_act
from returndesk.shipping.selectors import active_label, label_find_by_code
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant
from returndesk.warehouse import selectors as warehouse_selectors

PAGE = 50
# The home page's queues: (name, label, the return_list filters). Exceptions are lost parcels
# and returns a carrier event flagged (the receiving issue adds unidentified packages); refunds
# are due on inspected returns until the refunds issue adds refund rows.
QUEUES: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("pending_review", _("Pending review"), {"statuses": (PENDING_REVIEW,)}),
    ("awaiting_shipment", _("Awaiting shipment"), {"statuses": (AUTHORIZED,)}),
    ("awaiting_receipt", _("Awaiting receipt"), {"statuses": (IN_TRANSIT, DELIVERED)}),
    ("exceptions", _("Exceptions"), {"exceptions": True}),
    ("awaiting_inspection", _("Awaiting inspection"), {"statuses": (RECEIVED,)}),
    ("refunds_due", _("Refunds due"), {"statuses": (INSPECTED,)}),
)
ACTIONS = (
    ("approve", "Approve", perm.RETURNS_REVIEW, ("pending_review",)),
    ("reject", "Reject", perm.RETURNS_REVIEW, ("pending_review",)),
    ("cancel", "Cancel", perm.RETURNS_CANCEL, ("pending_review", "authorized")),
    ("reopen", "Reopen", perm.RETURNS_REOPEN, ("expired",)),
    ("mark-lost", "Mark lost", perm.RETURNS_MARK_LOST, ("in_transit",)),
)


def queue_link(slug: str, name: str) -> str:
    return f"{reverse('console:returns', args=[slug])}?queue={name}"


@console_page(perm.RETURNS_VIEW, methods=("GET",))
def home(request: HttpRequest, seat: Seat) -> HttpResponse:
    slug = seat.merchant.slug
    with merchant_scope(seat.merchant):
        counts = return_selectors.return_status_counts(merchant=seat.merchant)
        exceptions = return_selectors.return_exception_count(merchant=seat.merchant)

    def count(filters: dict[str, Any]) -> int:
        if filters.get("exceptions"):
            return exceptions
        return sum(counts.get(status, 0) for status in filters["statuses"])

    queues = [(queue_link(slug, name), label, count(filters)) for name, label, filters in QUEUES]
    return render(request, "console/home.html", page_context(seat, queues=queues))


class ReturnFilters(forms.Form):
    """The returns list's search box and filters, all optional."""

    q = forms.CharField(
        required=False, label=_("Search by RAN, order number, e-mail or tracking number")
    )
    status = forms.ChoiceField(required=False, label=_("Status"))
    channel = forms.ChoiceField(required=False, label=_("Channel"))
    reason = forms.ChoiceField(required=False, label=_("Reason"))
    created_from = forms.DateField(required=False, label=_("Created from"))
    created_to = forms.DateField(required=False, label=_("Created to"))
    queue = forms.ChoiceField(required=False, choices=[(q[0], q[1]) for q in QUEUES])

    def __init__(self, data: Any, *, reasons: list[tuple[str, str]]) -> None:
        super().__init__(data)
        any_: list[tuple[str, Any]] = [("", _("any"))]
        choices = {
            "status": [(s, s) for s in STATUSES],
            "channel": [(c, c) for c in CHANNELS],
            "reason": reasons,
        }
        for name, offered in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [*any_, *offered]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("created_from"), data.get("created_to")
        if first and last and first > last:
            self.add_error("created_to", _("The end date is before the start date."))
        return data


@console_page(perm.RETURNS_VIEW, methods=("GET",))
def returns(request: HttpRequest, seat: Seat) -> HttpResponse:
    with merchant_scope(seat.merchant):
        policy = policy_document(policy_current(merchant=seat.merchant))
        form = ReturnFilters(request.GET, reasons=[(r.code, r.label) for r in policy.reasons])
        notice = ""
        rows: list[Any] = []
        if form.is_valid():
            filters, notice = _return_filters(seat.merchant, form.cleaned_data)
            if not notice:
                found = return_selectors.return_list(merchant=seat.merchant, **filters)
                rows = list(found.order_by("-created_at", "-pk")[: PAGE + 1])
    queue = next(
        (q for q in QUEUES if form.is_valid() and q[0] == form.cleaned_data["queue"]), None
    )
    labels = {r.code: r.label for r in policy.reasons}
    template = "console/_returns_table.html" if request.htmx else "console/returns.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        page_context(
            seat,
            form=form,
            rows=[(format_ran(r.ran), r, _reasons(r, labels)) for r in rows[:PAGE]],
            more=len(rows) > PAGE,
            page_size=PAGE,
            queue=queue,
            notice=notice,
        ),
    )


def _reasons(ret: Any, labels: dict[str, str]) -> list[str]:
    """The reasons a return's lines give, once each, as the policy labels them."""
    codes = dict.fromkeys(line.reason for line in ret.lines.all())
    return [labels.get(code, code) for code in codes]


def _return_filters(merchant: Merchant, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The selector's filters from the form, or a notice when the search is a mistyped RAN."""
    filters: dict[str, Any] = {
        key: data[key] for key in ("status", "channel", "reason") if data.get(key)
    }
    queue = next((q for q in QUEUES if q[0] == data.get("queue")), None)
    if queue is not None:
        filters.update(queue[2])
    filters["created_from"], filters["created_to"] = return_selectors.local_day_bounds(
        merchant=merchant, first=data.get("created_from"), last=data.get("created_to")
    )
    query = data.get("q", "").strip()
    if query:
        try:
            filters["ran"] = parse_ran(query)
        except RanInvalid as exc:
            label = label_find_by_code(code=query)
            if label is not None and label.merchant_id == merchant.pk:
                filters["ran"] = label.return_request.ran  # a tracking or drop-off code
            elif len(query.replace("-", "").replace(" ", "")) == 13:
                return filters, exc.detail  # a RAN, mistyped: say so instead of searching
            elif "@" in query:
                filters["email"] = query
            else:
                filters["order_number"] = query
    return filters, ""


@console_page(perm.RETURNS_VIEW, methods=("GET",))
def return_detail(request: HttpRequest, seat: Seat, ran: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        try:
            ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
        except (NotFound, RanInvalid):
            raise Http404 from None
        events = list(return_selectors.return_events(ret=ret))
        emails = email_deliveries_of_return(ran=ret.ran)
        packages = warehouse_selectors.packages_of_return(ret=ret)
        shipping = active_label(ret=ret)
        tracking = (
            list(shipping.tracking_events.order_by("-occurred_at", "-pk")) if shipping else []
        )
        money = return_money(seat, ret)
    actions = [
        (name, label)
        for name, label, needed, sources in ACTIONS
        if seat.can(needed) and ret.status in sources
    ]
    return render(
        request,
        "console/return_detail.html",
        page_context(
            seat,
            ret=ret,
            ran=format_ran(ret.ran),
            events=events,
            emails=emails,
            actions=actions,
            override_at=_override_at(ret.decision),
            label=shipping,
            tracking=tracking,
            packages=packages,
            money=money,
            here=request.get_full_path(),
            can_issue_label=seat.can(perm.RETURNS_CREATE) and ret.status == AUTHORIZED,
            can_clear_exception=seat.can(perm.RETURNS_MARK_LOST) and ret.exception_at,
        ),
    )


def _override_at(decision: dict[str, Any]) -> datetime | None:
    at = (decision.get("override") or {}).get("at")
    return datetime.fromisoformat(at) if at else None


@console_page(perm.RETURNS_VIEW, methods=("GET",))
def return_photo(request: HttpRequest, seat: Seat, ran: str, linked_photo: str) -> HttpResponse:
    """A photo of a package that arrived without a match and was linked to this return: the
    merchant's since the link."""
    with merchant_scope(seat.merchant):
        try:
            ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
            found = warehouse_selectors.return_package_photo(ret=ret, upload_id=linked_photo)
        except (NotFound, RanInvalid):
            raise Http404 from None
    return photo_response(found)


@console_page(perm.RETURNS_VIEW, methods=("POST",))
def return_action(request: HttpRequest, seat: Seat, ran: str, action: str) -> HttpResponse:
    needed = {name: permission for name, _, permission, _ in ACTIONS}.get(action)
    if needed is None:
        raise Http404
    seat.require(needed)
    with merchant_scope(seat.merchant):
        try:
            ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
        except (NotFound, RanInvalid):
            raise Http404 from None
        try:
            return_act(
                actor=seat.actor,
                ret=ret,
                action=action,
                reason=request.POST.get("reason", ""),
                channel="console",
            )
            messages.success(request, f"{format_ran(ret.ran)}: done ({action}).")
        except ApplicationError as exc:
            messages.error(request, exc.detail)
    return HttpResponseRedirect(
        reverse("console:return", args=[seat.merchant.slug, format_ran(ret.ran)])
    )


urlpatterns = [
    path("m/<slug:slug>/", home, name="home"),
    path("m/<slug:slug>/returns/", returns, name="returns"),
    path("m/<slug:slug>/returns/<str:ran>/", return_detail, name="return"),
    path("m/<slug:slug>/returns/<str:ran>/<slug:action>/", return_action, name="return_action"),
    path(
        "m/<slug:slug>/returns/<str:ran>/photos/<str:linked_photo>/",
        return_photo,
        name="return_photo",
    ),
]
