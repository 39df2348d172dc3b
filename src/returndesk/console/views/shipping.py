"""A return's journey to the facility, as staff handle it: issue the label, print it, and clear
an exception a carrier event raised. The shipping and lifecycle services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page
from returndesk.core.codes import RanInvalid, format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.tenancy import merchant_scope
from returndesk.returns import selectors as return_selectors
from returndesk.returns.lifecycle import return_exception_clear
from returndesk.returns.models import Return
from returndesk.shipping import selectors as shipping_selectors
from returndesk.shipping.services import label_issue
from returndesk.shipping.services import label_pdf as stored_label_pdf
from returndesk.tenants import permissions as perm


def _return(seat: Seat, ran: str) -> Return:
    try:
        return return_selectors.return_get(merchant=seat.merchant, ran=ran)
    except (NotFound, RanInvalid):
        raise Http404 from None


def _back(seat: Seat, ret: Return) -> HttpResponse:
    return HttpResponseRedirect(
        reverse("console:return", args=[seat.merchant.slug, format_ran(ret.ran)])
    )


@console_page(perm.RETURNS_CREATE, methods=("POST",))
def label_create(request: HttpRequest, seat: Seat, ran: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        ret = _return(seat, ran)
        try:
            label, created = label_issue(actor=seat.actor, ret=ret)
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            code = label.tracking_number or label.dropoff_code
            if created:
                messages.success(request, _("Label issued: %(code)s.") % {"code": code})
            else:
                messages.info(
                    request, _("The return already has a label: %(code)s.") % {"code": code}
                )
    return _back(seat, ret)


@console_page(perm.RETURNS_VIEW, methods=("GET",))
def label_pdf(request: HttpRequest, seat: Seat, ran: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        ret = _return(seat, ran)
        label = shipping_selectors.active_label(ret=ret)
        if label is None:
            raise Http404
        pdf = stored_label_pdf(label=label)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="return-{format_ran(ret.ran)}.pdf"'
    return response


@console_page(perm.RETURNS_MARK_LOST, methods=("POST",))
def exception_clear(request: HttpRequest, seat: Seat, ran: str) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()
    with merchant_scope(seat.merchant):
        ret = _return(seat, ran)
        if not reason:
            messages.error(request, _("Say what was done about the exception."))
        else:
            return_exception_clear(ret=ret, reason=reason, actor=seat.actor)
            messages.success(request, _("Exception cleared."))
    return _back(seat, ret)


urlpatterns = [
    path("m/<slug:slug>/returns/<str:ran>/label/", label_create, name="label_create"),
    path("m/<slug:slug>/returns/<str:ran>/label.pdf", label_pdf, name="label_pdf"),
    path(
        "m/<slug:slug>/returns/<str:ran>/exception/clear/",
        exception_clear,
        name="exception_clear",
    ),
]
