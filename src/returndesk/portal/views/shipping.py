"""The shopper's label: issued when the return is authorized, downloaded as a 4x6 PDF with its
packing slip (or shown as a drop-off code), and the carrier's tracking on the status page.
The status link's signature is the shopper's credential, as for the status page itself."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from returndesk.core.actors import Actor
from returndesk.core.codes import format_ran
from returndesk.core.errors import ApplicationError
from returndesk.core.tenancy import merchant_scope
from returndesk.portal import present
from returndesk.portal.links import LinkExpired, LinkInvalid, status_ran, status_token
from returndesk.portal.symbols import qr_svg
from returndesk.portal.views.common import merchant_or_404
from returndesk.returns.models import AUTHORIZED, Return
from returndesk.shipping.labels import format_dropoff_code
from returndesk.shipping.selectors import active_label
from returndesk.shipping.services import label_issue
from returndesk.shipping.services import label_pdf as stored_label_pdf
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

# What a shopper is told of the carrier's statuses (shipping/tracking.py normalises them).
TRACKING_TEXT = {
    "pre_transit": _("Label created, waiting for the carrier"),
    "in_transit": _("On its way"),
    "out_for_delivery": _("Out for delivery to our returns centre"),
    "delivered": _("Arrived at our returns centre"),
    "return_to_sender": _("The carrier is sending it back to you"),
    "failure": _("The carrier reported a problem"),
    "lost": _("The carrier reported it lost"),
}


def label_try_issue(merchant: Merchant, ret: Return, *, actor: Actor) -> None:
    """Issue the label of a just-authorized return. A carrier that is down must not undo the
    return: the status page offers the label again, and staff can issue it."""
    with merchant_scope(merchant):
        try:
            label_issue(actor=actor, ret=ret)
        except ApplicationError as exc:
            logger.warning("label for %s not issued: %s", format_ran(ret.ran), exc.detail)


def label_context(merchant: Merchant, ret: Return) -> dict[str, Any]:
    """The label (or drop-off code) and tracking as the confirmation and status pages show it."""
    label = active_label(ret=ret)
    token = status_token(merchant, ret.ran)
    context: dict[str, Any] = {
        "label": label,
        "label_pdf_url": reverse("portal:label_pdf", args=[merchant.slug, token]),
        "label_issue_url": reverse("portal:label_issue", args=[merchant.slug, token]),
        "tracking": [],
        "tracking_text": "",
    }
    if label is None:
        return context
    if label.dropoff_code:
        shown = format_dropoff_code(label.dropoff_code)
        context["dropoff_code"] = shown
        context["dropoff_qr"] = qr_svg(
            label.dropoff_code, title=_("QR code of drop-off code %(code)s") % {"code": shown}
        )
    context["label_fee"] = present.money(merchant, label.shopper_fee_amount, label.currency)
    context["tracking_text"] = TRACKING_TEXT.get(label.tracking_status, "")
    context["tracking"] = [
        {
            "text": TRACKING_TEXT.get(event.status, event.status),
            "at": present.moment(merchant, event.occurred_at),
            "iso": event.occurred_at,
            "location": event.location,
        }
        for event in label.tracking_events.order_by("-occurred_at", "-pk")
    ]
    return context


def _linked_return(merchant: Merchant, token: str) -> Return:
    try:
        ran = status_ran(merchant, token)
    except (LinkExpired, LinkInvalid):
        raise Http404 from None
    ret = Return.objects.filter(merchant=merchant, ran=ran).first()
    if ret is None:
        raise Http404
    return ret


def label_pdf(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    merchant = merchant_or_404(slug)
    with merchant_scope(merchant):
        ret = _linked_return(merchant, token)
        label = active_label(ret=ret)
        if label is None:
            raise Http404
        pdf = stored_label_pdf(label=label)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"return-{format_ran(ret.ran)}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def label_get(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """The shopper asks for the label again (an approval after review, or a carrier that was
    down at confirmation): issued once, however often asked."""
    merchant = merchant_or_404(slug)
    with merchant_scope(merchant):
        ret = _linked_return(merchant, token)
        if ret.status != AUTHORIZED:
            messages.error(request, _("This return can't get a label now."))
        else:
            try:
                label_issue(actor=Actor.shopper("shopper (portal)"), ret=ret)
            except ApplicationError:
                messages.error(
                    request,
                    _("We couldn't create your label just now. Please try again later."),
                )
    return redirect(reverse("portal:status", args=[merchant.slug, token]))
