"""Step 6: a return's status page behind a signed, expiring link, and cancelling from it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from returndesk.core.errors import InvalidTransition
from returndesk.core.tenancy import merchant_scope
from returndesk.portal import present
from returndesk.portal.links import LinkExpired, LinkInvalid, status_ran
from returndesk.portal.views.common import merchant_or_404, page, shopper
from returndesk.portal.views.confirm import return_context
from returndesk.returns.models import Return
from returndesk.returns.services import return_act
from returndesk.returns.shopper import (
    STATUS_TEXT,
    return_cancellable,
    shopper_timeline,
)
from returndesk.tenants.models import Merchant


def _link_problem(request: HttpRequest, merchant: Merchant, *, expired: bool) -> HttpResponse:
    return page(
        request,
        "portal/link_problem.html",
        merchant,
        {"expired": expired},
        status=410 if expired else 404,
    )


def _return_from_link(
    request: HttpRequest, merchant: Merchant, token: str
) -> Return | HttpResponse:
    try:
        ran = status_ran(merchant, token)
    except LinkExpired:
        return _link_problem(request, merchant, expired=True)
    except LinkInvalid:
        return _link_problem(request, merchant, expired=False)
    ret = Return.objects.filter(merchant=merchant, ran=ran).select_related("order").first()
    if ret is None:
        return _link_problem(request, merchant, expired=False)
    return ret


def _status_context(merchant: Merchant, ret: Return, token: str) -> dict[str, Any]:
    context = return_context(merchant, ret)
    context.update(
        {
            "token": token,
            "status_text": STATUS_TEXT.get(ret.status, ret.status),
            "timeline": [
                {"title": event.title, "at": present.moment(merchant, event.at), "iso": event.at}
                for event in shopper_timeline(ret=ret)
            ],
            "cancellable": return_cancellable(ret),
            "lines": [{"name": line.name, "quantity": line.quantity} for line in ret.lines.all()],
        }
    )
    return context


def status(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The return as the shopper should see it: where it is, what happened, what comes next."""
    merchant = merchant_or_404(slug)
    with merchant_scope(merchant):
        found = _return_from_link(request, merchant, token)
        if isinstance(found, HttpResponse):
            return found
        context = _status_context(merchant, found, token)
    return page(request, "portal/status.html", merchant, context)


def cancel(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Cancel while nothing is shipped, through the same service as staff, as the shopper."""
    merchant = merchant_or_404(slug)
    partial = bool(getattr(request, "htmx", False))
    template = "portal/_cancel_form.html" if partial else "portal/cancel.html"
    with merchant_scope(merchant):
        found = _return_from_link(request, merchant, token)
        if isinstance(found, HttpResponse):
            return found
        ret = found
        context: dict[str, Any] = {"ret": ret, "token": token, "refused": ""}
        context["status_url"] = reverse("portal:status", args=[merchant.slug, token])
        refused = _("This return can't be cancelled any more: it's already on its way or closed.")
        if not return_cancellable(ret):
            context["refused"] = refused
            # htmx swaps only successful answers; the partial says it in place instead.
            return page(request, template, merchant, context, status=200 if partial else 409)
        if request.method != "POST":
            return page(request, template, merchant, context)
        said = request.POST.get("reason", "").strip()[:500]
        try:
            return_act(
                actor=shopper(gift=ret.gift),
                ret=ret,
                action="cancel",
                reason="cancelled by the shopper" + (f": {said}" if said else ""),
                channel="portal",
            )
        except InvalidTransition:  # shipped meanwhile
            context["refused"] = refused
            return page(request, "portal/cancel.html", merchant, context, status=409)
    return redirect(context["status_url"])
