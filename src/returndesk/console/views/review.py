"""The review queue: returns the policy sent to a person, approved or rejected with a reason,
one at a time or several at once. Each return is acted on by itself and reported by itself."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.core.codes import RanInvalid, format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.tenancy import merchant_scope
from returndesk.returns import selectors as return_selectors
from returndesk.returns.services import return_act
from returndesk.tenants import permissions as perm

PAGE = 100
VERBS = {"approve": "approved", "reject": "rejected"}


@console_page(perm.RETURNS_REVIEW, methods=("GET",))
def review_queue(request: HttpRequest, seat: Seat) -> HttpResponse:
    return _queue(request, seat)


def _queue(
    request: HttpRequest,
    seat: Seat,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    with merchant_scope(seat.merchant):
        rows = list(return_selectors.returns_in_review(merchant=seat.merchant)[: PAGE + 1])
    return render(
        request,
        "console/review.html",
        page_context(
            seat,
            rows=[(format_ran(r.ran), r) for r in rows[:PAGE]],
            more=len(rows) > PAGE,
            page_size=PAGE,
            errors=errors or {},
            form=form or {"selected": [], "reason": ""},
        ),
        status=status,
    )


@console_page(perm.RETURNS_REVIEW, methods=("POST",))
def review_act(request: HttpRequest, seat: Seat) -> HttpResponse:
    """Approve or reject the selected returns (or the one whose row button was pressed), each
    with the same reason. A return that has moved on meanwhile is reported, not skipped."""
    reason = request.POST.get("reason", "").strip()
    row_action = request.POST.get("row_action", "")
    if row_action:
        action, _sep, ran = row_action.partition(":")
        rans = [ran]
    else:
        action = request.POST.get("action", "")
        rans = request.POST.getlist("ran")
    form = {"selected": rans, "reason": reason}
    errors: dict[str, str] = {}
    if action not in VERBS:
        errors["action"] = _("Choose approve or reject.")
    if not rans:
        errors["ran"] = _("Select at least one return.")
    if not reason:
        errors["reason"] = _("Say why: the reason goes on each return's timeline.")
    if errors:
        return _queue(request, seat, errors=errors, form=form, status=422)
    verb = _(VERBS[action])
    results: list[tuple[bool, str]] = []
    with merchant_scope(seat.merchant):
        for ran in dict.fromkeys(rans):
            try:
                ret = return_selectors.return_get(merchant=seat.merchant, ran=ran)
            except (NotFound, RanInvalid):
                results.append((False, _("%(ran)s: no such return; nothing done.") % {"ran": ran}))
                continue
            shown = format_ran(ret.ran)
            try:
                return_act(
                    actor=seat.actor, ret=ret, action=action, reason=reason, channel="console"
                )
            except ApplicationError as exc:
                results.append(
                    (
                        False,
                        _("%(ran)s: not %(verb)s. %(why)s")
                        % {"ran": shown, "verb": verb, "why": exc.detail},
                    )
                )
            else:
                results.append((True, _("%(ran)s: %(verb)s.") % {"ran": shown, "verb": verb}))
    done = sum(ok for ok, _text in results)
    summary = _("%(done)d of %(total)d %(verb)s.") % {
        "done": done,
        "total": len(results),
        "verb": verb,
    }
    (messages.success if done == len(results) else messages.warning)(request, summary)
    for ok, text in results:
        (messages.success if ok else messages.error)(request, text)
    return HttpResponseRedirect(reverse("console:review", args=[seat.merchant.slug]))


urlpatterns = [
    path("m/<slug:slug>/review/", review_queue, name="review"),
    path("m/<slug:slug>/review/act/", review_act, name="review_act"),
]
