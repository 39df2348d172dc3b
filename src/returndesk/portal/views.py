"""The shopper portal (/r/<merchant>/): finding the order. Thin views over the services."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from returndesk.catalog.models import Order
from returndesk.core.ratelimit import Limit, rate_limit_hit
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.selectors import OrderNotFound, order_for_shopper
from returndesk.tenants.models import Merchant

# R7: lookups are limited per client and per order, so guessing is slow whoever guesses.
PER_CLIENT = Limit("portal-lookup-client", limit=10, window=timedelta(minutes=10))
PER_ORDER = Limit("portal-lookup-order", limit=5, window=timedelta(minutes=10))
SESSION_KEY = "portal_order"


def _merchant(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug, is_active=True).first()
    if merchant is None:
        raise Http404
    return merchant


def _client(request: HttpRequest) -> str:
    # Behind a reverse proxy, gunicorn must be told to trust its forwarded address
    # (--forwarded-allow-ips) or every shopper shares the proxy's limit.
    return request.META.get("REMOTE_ADDR", "unknown")


def find_order(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: the order number with the e-mail (or, for a gift, the postal code)."""
    merchant = _merchant(slug)
    context = {"merchant": merchant, "error": "", "values": {}}
    if request.method != "POST":
        return render(request, "portal/find.html", context)
    number = request.POST.get("order_number", "").strip()
    email = request.POST.get("email", "").strip()
    postal = request.POST.get("postal_code", "").strip()
    context["values"] = {"order_number": number, "email": email, "postal_code": postal}
    if not number or not (email or postal):
        context["error"] = "Enter your order number and the e-mail address you ordered with."
        return render(request, "portal/find.html", context, status=422)
    for rule, key in ((PER_CLIENT, _client(request)), (PER_ORDER, f"{merchant.pk}:{number}")):
        verdict = rate_limit_hit(rule=rule, key=key)
        if not verdict.allowed:
            context["error"] = "Too many attempts. Please wait a few minutes before trying again."
            response = render(request, "portal/find.html", context, status=429)
            response["Retry-After"] = str(verdict.retry_after)
            return response
    with merchant_scope(merchant):
        try:
            order = order_for_shopper(
                merchant=merchant, order_number=number, email=email, postal_code=postal
            )
        except OrderNotFound:
            # The same words whether the order is unknown or the e-mail is someone else's.
            context["error"] = (
                "We couldn't find an order with these details. Check the order number and "
                "the e-mail address (or postal code) and try again."
            )
            return render(request, "portal/find.html", context, status=404)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "merchant": merchant.pk,
        "order": order.pk,
        "gift": bool(postal and not email),
    }
    return redirect(reverse("portal:order", args=[merchant.slug]))


def order(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 2 starts here: the order found, in this browser session only."""
    merchant = _merchant(slug)
    found = request.session.get(SESSION_KEY) or {}
    if found.get("merchant") != merchant.pk:
        return redirect(reverse("portal:find", args=[merchant.slug]))
    with merchant_scope(merchant):
        order = Order.objects.filter(merchant=merchant, pk=int(found.get("order", 0))).first()
        if order is None:
            return redirect(reverse("portal:find", args=[merchant.slug]))
        lines = list(order.lines.all())
    return render(
        request, "portal/order.html", {"merchant": merchant, "order": order, "lines": lines}
    )
