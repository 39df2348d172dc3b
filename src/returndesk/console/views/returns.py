"""Staff console pages: thin views over the same selectors and services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from returndesk.console.access import seat_for
from returndesk.console.views.common import page_context
from returndesk.core.codes import RanInvalid, format_ran, parse_ran
from returndesk.core.errors import ApplicationError, NotFound, PermissionDenied
from returndesk.core.tenancy import merchant_scope
from returndesk.returns import selectors as return_selectors
from returndesk.returns.models import STATUSES
from returndesk.returns.services import return_act
from returndesk.tenants import permissions as perm

PAGE = 50
QUEUES = (
    ("pending_review", "Pending review"),
    ("authorized", "Awaiting shipment"),
    ("in_transit", "In transit"),
    ("received", "Awaiting inspection"),
)
ACTIONS = (
    ("approve", "Approve", perm.RETURNS_REVIEW, ("pending_review",)),
    ("reject", "Reject", perm.RETURNS_REVIEW, ("pending_review",)),
    ("cancel", "Cancel", perm.RETURNS_CANCEL, ("pending_review", "authorized")),
    ("reopen", "Reopen", perm.RETURNS_REOPEN, ("expired",)),
    ("mark-lost", "Mark lost", perm.RETURNS_MARK_LOST, ("in_transit",)),
)


@login_required(login_url="console:login")
def home(request: HttpRequest, slug: str) -> HttpResponse:
    seat = seat_for(request, slug)
    seat.require(perm.RETURNS_VIEW)
    with merchant_scope(seat.merchant):
        counts = return_selectors.return_status_counts(merchant=seat.merchant)
    queues = [(status, label, counts.get(status, 0)) for status, label in QUEUES]
    return render(request, "console/home.html", page_context(seat, queues=queues))


@login_required(login_url="console:login")
def returns(request: HttpRequest, slug: str) -> HttpResponse:
    seat = seat_for(request, slug)
    seat.require(perm.RETURNS_VIEW)
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    notice = ""
    filters: dict[str, Any] = {}
    if status in STATUSES:
        filters["status"] = status
    if query:
        try:
            filters["ran"] = parse_ran(query)
        except RanInvalid as exc:
            if len(query.replace("-", "").replace(" ", "")) == 13:
                notice = exc.detail  # a RAN, mistyped: say so instead of searching for it
            elif "@" in query:
                filters["email"] = query
            else:
                filters["order_number"] = query
    with merchant_scope(seat.merchant):
        rows = (
            []
            if notice
            else list(
                return_selectors.return_list(merchant=seat.merchant, **filters).order_by(
                    "-created_at", "-pk"
                )[:PAGE]
            )
        )
    template = "console/_returns_table.html" if request.htmx else "console/returns.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        page_context(
            seat,
            rows=[(format_ran(r.ran), r) for r in rows],
            query=query,
            status=status,
            statuses=STATUSES,
            notice=notice,
        ),
    )


@login_required(login_url="console:login")
def return_detail(request: HttpRequest, slug: str, ran: str) -> HttpResponse:
    seat = seat_for(request, slug)
    seat.require(perm.RETURNS_VIEW)
    with merchant_scope(seat.merchant):
        try:
            ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
        except (NotFound, RanInvalid):
            raise Http404 from None
        events = list(return_selectors.return_events(ret=ret))
    actions = [
        (name, label)
        for name, label, needed, sources in ACTIONS
        if seat.can(needed) and ret.status in sources
    ]
    return render(
        request,
        "console/return_detail.html",
        page_context(seat, ret=ret, ran=format_ran(ret.ran), events=events, actions=actions),
    )


@require_POST
@login_required(login_url="console:login")
def return_action(request: HttpRequest, slug: str, ran: str, action: str) -> HttpResponse:
    seat = seat_for(request, slug)
    needed = {name: permission for name, _, permission, _ in ACTIONS}.get(action)
    if needed is None:
        raise Http404
    try:
        seat.require(needed)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
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
    return HttpResponseRedirect(reverse("console:return", args=[slug, format_ran(ret.ran)]))


urlpatterns = [
    path("m/<slug:slug>/", home, name="home"),
    path("m/<slug:slug>/returns/", returns, name="returns"),
    path("m/<slug:slug>/returns/<str:ran>/", return_detail, name="return"),
    path("m/<slug:slug>/returns/<str:ran>/<slug:action>/", return_action, name="return_action"),
]
