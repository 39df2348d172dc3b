"""Carrier pages: a merchant admin chooses the merchant's carriers and facility routing; the
provider's operators look through stored carrier webhooks and send a failed or unmatched one
through processing again. The shipping services do the work and the audit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from returndesk.console.access import Seat
from returndesk.console.views.admin import (
    Field,
    field_errors,
    fields_for,
    form_status,
    problem_for,
)
from returndesk.console.views.common import console_page, page_context
from returndesk.core.codes import format_ran
from returndesk.core.errors import ApplicationError, NotFound, ValidationFailed
from returndesk.core.money import Money, MoneyError
from returndesk.core.tenancy import merchant_scope
from returndesk.shipping import selectors
from returndesk.shipping.models import (
    CARRIER_CODES,
    MODE_DROPOFF,
    MODE_LABEL,
    WEBHOOK_STATES,
    CarrierWebhook,
)
from returndesk.shipping.services import (
    WEBHOOK_RETRIABLE,
    carrier_settings_errors,
    carrier_settings_update,
    carrier_webhook_retry,
    facility_route_add,
    facility_route_remove,
)
from returndesk.tenants import permissions as perm

WEBHOOKS_PAGE = 50
# A body is shown up to this size: enough to read any real tracking event, and a hostile 1 MiB
# body does not become a 1 MiB page.
BODY_SHOWN_BYTES = 16 * 1024
HEADER_SHOWN_CHARS = 500
# Control characters and bidirectional overrides are shown as escapes: a body must not be able
# to reorder or hide what the operator reads.
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def carrier_names() -> dict[str, str]:
    return {
        "prepaid": _("Prepaid label (the provider's own)"),
        "easypost": _("EasyPost"),
    }


def state_names() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "processed": _("Processed"),
        "rejected": _("Rejected"),
        "unmatched": _("Unmatched"),
        "ignored": _("Ignored"),
        "failed": _("Failed"),
    }


def _names(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]


# --- a merchant's carriers and routing ------------------------------------------------------


def settings_values(seat: Seat) -> dict[str, str]:
    row = selectors.carrier_settings_for(merchant=seat.merchant)
    carriers = list(row.carriers)
    return {
        "carrier_1": carriers[0] if carriers else "",
        "carrier_2": carriers[1] if len(carriers) > 1 else "",
        "mode": row.mode,
        "easypost_services": ", ".join(row.easypost_services),
        "easypost_carrier_accounts": ", ".join(row.easypost_carrier_accounts),
        "prepaid_price": str(Money(row.prepaid_cost_amount, seat.merchant.currency).to_decimal()),
    }


def settings_fields(
    seat: Seat, values: Mapping[str, Any], errors: Mapping[str, str]
) -> list[Field]:
    names = carrier_names()
    return fields_for(
        [
            Field(
                "carrier_1",
                _("First choice"),
                type="select",
                choices=[
                    ("", _("None (drop-off only)")),
                    *[(c, names[c]) for c in CARRIER_CODES],
                ],
            ),
            Field(
                "carrier_2",
                _("When the first cannot issue a label"),
                type="select",
                choices=[("", _("No fallback")), *[(c, names[c]) for c in CARRIER_CODES]],
            ),
            Field(
                "easypost_services",
                _("EasyPost services allowed"),
                help=_("Separated by commas, e.g. GroundAdvantage, Priority. Empty: any."),
            ),
            Field(
                "easypost_carrier_accounts",
                _("EasyPost carrier accounts"),
                help=_("Account ids separated by commas, e.g. ca_123abc. Empty: the provider's."),
            ),
            Field(
                "prepaid_price",
                _("Price of a prepaid label (%(currency)s)") % {"currency": seat.merchant.currency},
                help=_("What the provider bills for one of its own labels, e.g. 4.50."),
                autocomplete="off",
            ),
        ],
        values,
        errors,
    )


def route_fields(seat: Seat, values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    facilities = selectors.facilities_serving(merchant=seat.merchant)
    return fields_for(
        [
            Field(
                "facility",
                _("Facility"),
                type="select",
                choices=[(f.code, f"{f.name} ({f.code})") for f in facilities],
                required=True,
            ),
            Field("country", _("Country"), help=_("Two letters, e.g. US; empty for any country.")),
            Field(
                "region",
                _("Region"),
                help=_("As on the shopper's address, e.g. IL; empty for the whole country."),
            ),
            Field(
                "priority",
                _("Priority"),
                type="number",
                value="100",
                help=_("Among equally specific routes, the lowest number wins."),
            ),
        ],
        values,
        errors,
    )


def _shipping_page(
    request: HttpRequest,
    seat: Seat,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str = "",
    route_values: Mapping[str, Any] | None = None,
    route_errors: Mapping[str, str] | None = None,
    route_problem: str = "",
    status: int = 200,
) -> HttpResponse:
    errors = errors or {}
    values = values if values is not None else settings_values(seat)
    fields = {f.name: f for f in settings_fields(seat, values, errors)}
    return render(
        request,
        "console/admin/shipping.html",
        page_context(
            seat,
            carrier_fields=[fields["carrier_1"], fields["carrier_2"]],
            carriers_error=errors.get("carriers", ""),
            mode=values.get("mode", MODE_LABEL),
            modes=[
                (MODE_LABEL, _("Label"), _("The shopper prints a carrier label.")),
                (
                    MODE_DROPOFF,
                    _("Box-free drop-off"),
                    _("The shopper shows a QR code at a drop-off point; no label, no box."),
                ),
            ],
            mode_error=errors.get("mode", ""),
            easypost_fields=[fields["easypost_services"], fields["easypost_carrier_accounts"]],
            price_field=fields["prepaid_price"],
            problem=problem,
            routes=selectors.facility_routes_list(merchant=seat.merchant),
            route_fields=route_fields(seat, route_values or {}, route_errors or {}),
            route_problem=route_problem,
            has_facilities=bool(selectors.facilities_serving(merchant=seat.merchant)),
        ),
        status=status,
    )


def _price(text: str, currency: str) -> int:
    """The prepaid price in minor units; empty is free."""
    if not text:
        return 0
    try:
        return Money.from_decimal(text, currency).amount
    except MoneyError as exc:
        raise ValidationFailed.on("prepaid_price", str(exc)) from None


SETTINGS_KEYS = (
    "carrier_1",
    "carrier_2",
    "mode",
    "easypost_services",
    "easypost_carrier_accounts",
    "prepaid_price",
)


@console_page(perm.INTEGRATIONS_MANAGE)
def shipping_settings(request: HttpRequest, seat: Seat) -> HttpResponse:
    with merchant_scope(seat.merchant):
        if request.method != "POST":
            return _shipping_page(request, seat)
        values = {k: request.POST.get(k, "").strip() for k in SETTINGS_KEYS}
        chosen: dict[str, Any] = {
            "carriers": [c for c in (values["carrier_1"], values["carrier_2"]) if c],
            "mode": values["mode"],
            "easypost_services": _names(values["easypost_services"]),
            "easypost_carrier_accounts": _names(values["easypost_carrier_accounts"]),
        }
        try:
            try:
                price = _price(values["prepaid_price"], seat.merchant.currency)
            except ValidationFailed as exc:
                # the price is unreadable: show it with whatever else is wrong, save nothing
                found = [*exc.errors, *carrier_settings_errors(**chosen)]
                raise ValidationFailed(exc.detail, errors=found) from None
            carrier_settings_update(
                actor=seat.actor, merchant=seat.merchant, prepaid_cost_amount=price, **chosen
            )
        except ApplicationError as exc:
            errors = field_errors(exc)
            if "prepaid_cost_amount" in errors:  # the service's name for the price field
                errors["prepaid_price"] = errors.pop("prepaid_cost_amount")
            return _shipping_page(
                request,
                seat,
                values=values,
                errors=errors,
                problem=problem_for(exc),
                status=form_status(exc),
            )
    messages.success(request, _("Carrier settings saved."))
    return HttpResponseRedirect(reverse("console:admin_shipping", args=[seat.merchant.slug]))


ROUTE_KEYS = ("facility", "country", "region", "priority")


@console_page(perm.INTEGRATIONS_MANAGE, methods=("POST",))
def route_add(request: HttpRequest, seat: Seat) -> HttpResponse:
    values = {k: request.POST.get(k, "").strip() for k in ROUTE_KEYS}
    with merchant_scope(seat.merchant):
        try:
            try:
                priority = int(values["priority"] or "100")
            except ValueError:
                raise ValidationFailed.on("priority", _("a whole number, e.g. 100")) from None
            route = facility_route_add(
                actor=seat.actor,
                merchant=seat.merchant,
                facility_code=values["facility"],
                country=values["country"],
                region=values["region"],
                priority=priority,
            )
        except ApplicationError as exc:
            return _shipping_page(
                request,
                seat,
                route_values=values,
                route_errors=field_errors(exc),
                route_problem=problem_for(exc),
                status=form_status(exc),
            )
        messages.success(
            request,
            _("Returns from %(where)s now go to %(facility)s.")
            % {"where": route_where(route.country, route.region), "facility": route.facility.code},
        )
    return HttpResponseRedirect(reverse("console:admin_shipping", args=[seat.merchant.slug]))


def route_where(country: str, region: str) -> str:
    if not country:
        return _("any country")
    return f"{country}, {region}" if region else country


@console_page(perm.INTEGRATIONS_MANAGE, methods=("POST",))
def route_remove(request: HttpRequest, seat: Seat, route_id: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        try:
            facility_route_remove(actor=seat.actor, merchant=seat.merchant, public_id=route_id)
        except NotFound:
            raise Http404 from None
    messages.success(request, _("Route removed."))
    return HttpResponseRedirect(reverse("console:admin_shipping", args=[seat.merchant.slug]))


# --- the provider's stored carrier webhooks ------------------------------------------------


def shown_text(text: str) -> str:
    """Text from outside as an operator may read it: HTML is escaped by the template; control
    and bidirectional characters become visible escapes here."""
    return UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@console_page(perm.PROVIDER_WEBHOOKS, methods=("GET",))
def webhooks(request: HttpRequest, seat: Seat) -> HttpResponse:
    carrier = request.GET.get("carrier", "")
    carrier = carrier if carrier in CARRIER_CODES else ""
    state = request.GET.get("state", "")
    state = state if state in WEBHOOK_STATES else ""
    counts = selectors.carrier_webhook_counts(carrier=carrier)
    found = selectors.carrier_webhooks_list(carrier=carrier, state=state)
    page = Paginator(found, WEBHOOKS_PAGE).get_page(request.GET.get("page"))
    names = state_names()
    return render(
        request,
        "console/carriers/webhooks.html",
        page_context(
            seat,
            page=page,
            hooks=[(h, names.get(h.state, h.state)) for h in page.object_list],
            carrier=carrier,
            state=state,
            carriers=[(c, carrier_names()[c]) for c in CARRIER_CODES],
            states=[
                (
                    s,
                    names[s],
                    counts[s],
                    urlencode({k: v for k, v in (("carrier", carrier), ("state", s)) if v}),
                )
                for s in WEBHOOK_STATES
            ],
            total=sum(counts.values()),
            all_filter=urlencode({"carrier": carrier} if carrier else {}),
            filters=urlencode({k: v for k, v in (("carrier", carrier), ("state", state)) if v}),
        ),
    )


def _webhook(public_id: str) -> CarrierWebhook:
    try:
        return selectors.carrier_webhook_get(public_id=public_id)
    except NotFound:
        raise Http404 from None


@console_page(perm.PROVIDER_WEBHOOKS, methods=("GET",))
def webhook_detail(request: HttpRequest, seat: Seat, webhook_id: str) -> HttpResponse:
    hook = _webhook(webhook_id)
    body = bytes(hook.body)
    headers = hook.headers if isinstance(hook.headers, dict) else {}
    ret = hook.label.return_request if hook.label is not None else None
    return render(
        request,
        "console/carriers/webhook.html",
        page_context(
            seat,
            hook=hook,
            state_name=state_names().get(hook.state, hook.state),
            headers=[
                (shown_text(str(k))[:HEADER_SHOWN_CHARS], shown_text(str(v))[:HEADER_SHOWN_CHARS])
                for k, v in sorted(headers.items())
            ],
            body=shown_text(body[:BODY_SHOWN_BYTES].decode("utf-8", errors="replace")),
            body_size=len(body),
            body_cut=len(body) > BODY_SHOWN_BYTES,
            shown_bytes=BODY_SHOWN_BYTES,
            detail=shown_text(hook.detail),
            retriable=hook.state in WEBHOOK_RETRIABLE,
            return_url=(
                reverse("console:return", args=[hook.merchant.slug, format_ran(ret.ran)])
                if ret is not None and hook.merchant is not None
                else ""
            ),
            ran=format_ran(ret.ran) if ret is not None else "",
        ),
    )


@console_page(perm.PROVIDER_WEBHOOKS, methods=("POST",))
def webhook_retry(request: HttpRequest, seat: Seat, webhook_id: str) -> HttpResponse:
    try:
        carrier_webhook_retry(actor=seat.actor, public_id=webhook_id)
    except NotFound:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Queued for processing again."))
    return HttpResponseRedirect(
        reverse("console:provider_webhook", args=[seat.merchant.slug, webhook_id])
    )


urlpatterns = [
    path("m/<slug:slug>/admin/shipping/", shipping_settings, name="admin_shipping"),
    path("m/<slug:slug>/admin/shipping/routes/", route_add, name="admin_shipping_route_add"),
    path(
        "m/<slug:slug>/admin/shipping/routes/<str:route_id>/remove/",
        route_remove,
        name="admin_shipping_route_remove",
    ),
    path("m/<slug:slug>/provider/carrier-webhooks/", webhooks, name="provider_webhooks"),
    path(
        "m/<slug:slug>/provider/carrier-webhooks/<str:webhook_id>/",
        webhook_detail,
        name="provider_webhook",
    ),
    path(
        "m/<slug:slug>/provider/carrier-webhooks/<str:webhook_id>/retry/",
        webhook_retry,
        name="provider_webhook_retry",
    ),
]
