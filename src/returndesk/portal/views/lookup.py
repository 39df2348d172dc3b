"""Finding things without an account: the order (step 1; or, where the policy accepts
receipts, the receipt for an order not in the system) and, later, the return.

Both are rate-limited per client and per order or return (R7 of QUALITY.md), and a wrong
combination reads exactly like an unknown one.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from returndesk.core.codes import RanInvalid, format_ran, parse_ran
from returndesk.core.ratelimit import Limit, Verdict, rate_limit_hit
from returndesk.core.tenancy import merchant_scope
from returndesk.portal.links import status_url
from returndesk.portal.state import remember_order, remember_receipt
from returndesk.portal.views.common import (
    client_address,
    image_upload,
    merchant_or_404,
    page,
    shopper,
)
from returndesk.portal.views.flow import receipts_accepted, too_large
from returndesk.returns.selectors import OrderNotFound, order_for_shopper
from returndesk.returns.shopper import ReturnNotFound, return_for_shopper
from returndesk.tenants.models import Merchant

# R7: lookups are limited per client and per order, so guessing is slow whoever guesses.
PER_CLIENT = Limit("portal-lookup-client", limit=10, window=timedelta(minutes=10))
PER_ORDER = Limit("portal-lookup-order", limit=5, window=timedelta(minutes=10))
RETURN_PER_CLIENT = Limit("portal-return-client", limit=10, window=timedelta(minutes=10))
RETURN_PER_RAN = Limit("portal-return-ran", limit=5, window=timedelta(minutes=10))


def _limited(rules: tuple[tuple[Limit, str], ...]) -> Verdict | None:
    """Count the attempt under every rule; the first verdict that refuses it, if any."""
    refused = None
    for rule, key in rules:
        verdict = rate_limit_hit(rule=rule, key=key)
        if not verdict.allowed and refused is None:
            refused = verdict
    return refused


def _too_many(
    request: HttpRequest, template: str, merchant: Merchant, context: dict, verdict: Verdict
) -> HttpResponse:
    context["error"] = _("Too many attempts. Please wait a few minutes before trying again.")
    response = page(request, template, merchant, context, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response


def find_order(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: the order number with the e-mail (or, for a gift, the postal code)."""
    merchant = merchant_or_404(slug)
    context: dict = {"error": "", "values": {}, "receipts": receipts_accepted(merchant)}
    if request.method != "POST":
        return page(request, "portal/find.html", merchant, context)
    # Shops print order numbers as "#1001"; the order is 1001 here.
    number = request.POST.get("order_number", "").strip().lstrip("#").strip()
    email = request.POST.get("email", "").strip()
    postal = request.POST.get("postal_code", "").strip()
    context["values"] = {"order_number": number, "email": email, "postal_code": postal}
    if not number or not (email or postal):
        context["error"] = _(
            "Enter your order number and the e-mail address you ordered with "
            "(or, for a gift, the postal code it was sent to)."
        )
        return page(request, "portal/find.html", merchant, context, status=422)
    refused = _limited(
        ((PER_CLIENT, client_address(request)), (PER_ORDER, f"{merchant.pk}:{number}"))
    )
    if refused is not None:
        return _too_many(request, "portal/find.html", merchant, context, refused)
    with merchant_scope(merchant):
        try:
            # With an e-mail, the buyer is proven by it; the postal code alone is a gift's way in
            # (and then the return is the recipient's, for store credit).
            order = order_for_shopper(
                merchant=merchant,
                order_number=number,
                email=email,
                postal_code="" if email else postal,
            )
        except OrderNotFound:
            # The same words whether the order is unknown or the e-mail is someone else's.
            context["error"] = _(
                "We couldn't find an order with these details. Check the order number and "
                "the e-mail address (or postal code) and try again."
            )
            context["not_found"] = True  # and, if the policy allows, the receipt's way in
            return page(request, "portal/find.html", merchant, context, status=404)
    remember_order(
        request,
        merchant=merchant,
        order_id=order.pk,
        number=order.order_number,
        email=email,
        postal=postal,
    )
    return redirect(reverse("portal:order", args=[merchant.slug]))


def find_receipt(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1 on a receipt, where the policy accepts one: the number as written on it, the
    shopper's e-mail and a photo of it. Counted with step 1's lookups, since a number and an
    e-mail that match an order lead to that order, as step 1 would."""
    merchant = merchant_or_404(slug)
    if not receipts_accepted(merchant):
        raise Http404
    context: dict = {"error": "", "errors": [], "field_errors": {}, "values": {}}
    if request.method != "POST":
        return page(request, "portal/receipt.html", merchant, context)
    number = request.POST.get("receipt_number", "").strip()[:100]
    email = request.POST.get("email", "").strip()
    context["values"] = {"receipt_number": number, "email": email}
    problems = context["field_errors"]
    receipt = ""
    upload = request.FILES.get("receipt")
    if too_large(request):
        problems["receipt"] = _("The photo is too large. Send a smaller one.")
    elif not isinstance(upload, UploadedFile):
        problems["receipt"] = _("Add a photo of your receipt.")
    if not number:
        problems["receipt_number"] = _("Enter the order number or reference on your receipt.")
    try:
        validate_email(email)
    except ValidationError:
        problems["email"] = _("Enter your e-mail address, like name@example.com.")
    if not problems and isinstance(upload, UploadedFile):
        refused = _limited(
            ((PER_CLIENT, client_address(request)), (PER_ORDER, f"{merchant.pk}:{number}"))
        )
        if refused is not None:
            return _too_many(request, "portal/receipt.html", merchant, context, refused)
        with merchant_scope(merchant):
            try:
                order = order_for_shopper(
                    merchant=merchant, order_number=number, email=email, postal_code=""
                )
            except OrderNotFound:
                order = None
            if order is not None:  # it is in the system after all: the order's own way
                remember_order(
                    request,
                    merchant=merchant,
                    order_id=order.pk,
                    number=order.order_number,
                    email=email,
                    postal="",
                )
                return redirect(reverse("portal:order", args=[merchant.slug]))
            receipt, problem = image_upload(
                actor=shopper(gift=False),
                merchant=merchant,
                upload=upload,
                purpose="receipt",
            )
        if problem:
            problems["receipt"] = problem
    if problems:
        order_of_fields = ("receipt_number", "email", "receipt")
        context["errors"] = [(name, problems[name]) for name in order_of_fields if name in problems]
        return page(request, "portal/receipt.html", merchant, context, status=422)
    remember_receipt(request, merchant=merchant, number=number, email=email, receipt=receipt)
    return redirect(reverse("portal:receipt_items", args=[merchant.slug]))


def find_return(request: HttpRequest, slug: str) -> HttpResponse:
    """Find my return: the RAN with the e-mail (a gift's recipient gives their own), leading
    to the return's signed status link."""
    merchant = merchant_or_404(slug)
    context: dict = {"error": "", "field_error": "", "values": {}}
    if request.method != "POST":
        return page(request, "portal/find_return.html", merchant, context)
    ran = request.POST.get("ran", "").strip()
    email = request.POST.get("email", "").strip()
    context["values"] = {"ran": ran, "email": email}
    if not ran or not email:
        context["error"] = _("Enter your return number and your e-mail address.")
        return page(request, "portal/find_return.html", merchant, context, status=422)
    try:
        # The check character catches a typo without looking anything up, so it costs no
        # attempt and says nothing about which returns exist.
        code = parse_ran(ran)
    except RanInvalid as exc:
        context["field_error"] = _ran_problem(ran, exc)
        return page(request, "portal/find_return.html", merchant, context, status=422)
    refused = _limited(
        (
            (RETURN_PER_CLIENT, client_address(request)),
            (RETURN_PER_RAN, f"{merchant.pk}:{code}"),
        )
    )
    if refused is not None:
        return _too_many(request, "portal/find_return.html", merchant, context, refused)
    with merchant_scope(merchant):
        try:
            ret = return_for_shopper(merchant=merchant, ran=code, email=email)
        except ReturnNotFound:
            context["error"] = _(
                "We couldn't find a return with these details. Check the return number and "
                "the e-mail address and try again."
            )
            return page(request, "portal/find_return.html", merchant, context, status=404)
    return redirect(status_url(merchant, ret.ran))


def _ran_problem(typed: str, exc: RanInvalid) -> str:
    """core/codes.py's explanation, in the shopper's language."""
    reason = exc.errors[0].message if exc.errors else exc.detail
    if reason == "a character is mistyped":
        return _(
            "%(ran)s is not a valid return number: a character is mistyped. Check it against "
            "your confirmation and try again."
        ) % {"ran": format_ran(typed)}
    return _("This is not a return number: %(reason)s.") % {"reason": reason}
