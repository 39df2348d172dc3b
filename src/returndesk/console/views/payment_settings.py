"""Payment settings (administration): how a merchant's refunds are paid. The tender rule, and the
credentials of Stripe and PayPal. Secrets are write-only: the page shows a hint (set, and the
last four characters), an empty field keeps the stored one, and a box clears it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from returndesk.console.access import Seat
from returndesk.console.views.admin import (
    Field,
    field_errors,
    fields_for,
    form_status,
    problem_for,
)
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError, ValidationFailed
from returndesk.core.secrets import secret_hint
from returndesk.core.tenancy import merchant_scope
from returndesk.refunds.services import (
    MAX_ATTEMPTS,
    payment_settings_for,
    payment_settings_update,
)
from returndesk.refunds.tenders import ALLOCATION_RULES
from returndesk.tenants import permissions as perm

SECRETS = ("stripe_secret_key", "stripe_webhook_secret", "paypal_client_secret")
PLAIN = ("allocation_rule", "paypal_client_id", "paypal_environment", "max_attempts")


def rule_names() -> dict[str, str]:
    return {
        "gift_cards_first": _("Gift cards and store credit first, the rest in proportion"),
        "proportional": _("Every tender in proportion"),
        "card_first": _("Cards first, the rest in proportion"),
    }


def _hint(value: str) -> str:
    shown = secret_hint(value)
    if not shown:
        return _("Not set.")
    if shown == "set":
        return _("Set. Leave empty to keep it.")
    return _("Set, ending in %(end)s. Leave empty to keep it.") % {"end": shown.lstrip("…")}


def _secret(name: str, label: str, stored: Mapping[str, str]) -> Field:
    """A write-only input: empty on every page, its hint says whether one is stored."""
    return Field(
        name, label, type="password", autocomplete="new-password", help=_hint(stored[name])
    )


def _fields(
    stored: Mapping[str, str], values: Mapping[str, Any], errors: Mapping[str, str]
) -> dict[str, Field]:
    names = rule_names()
    specs = [
        Field(
            "allocation_rule",
            _("How a refund is split across the order's payments"),
            type="select",
            choices=[(r, names.get(r, r)) for r in ALLOCATION_RULES],
        ),
        _secret("stripe_secret_key", _("Stripe secret key"), stored),
        _secret("stripe_webhook_secret", _("Stripe webhook signing secret"), stored),
        Field("paypal_client_id", _("PayPal client id")),
        _secret("paypal_client_secret", _("PayPal client secret"), stored),
        Field(
            "paypal_environment",
            _("PayPal environment"),
            type="select",
            choices=[("sandbox", _("Sandbox (testing)")), ("live", _("Live"))],
        ),
        Field(
            "max_attempts",
            _("Attempts before a refund is marked failed"),
            type="number",
            help=_(
                "From 1 to %(max)d. Attempts back off over a few hours, within the day a "
                "provider remembers a refund's idempotency key."
            )
            % {"max": MAX_ATTEMPTS},
        ),
    ]
    return {f.name: f for f in fields_for(specs, values, errors)}


def _page(
    request: HttpRequest,
    seat: Seat,
    values: Mapping[str, Any] | None = None,
    refused: ApplicationError | None = None,
) -> HttpResponse:
    """The page; after a refused form, with what was typed (secrets excepted) and why."""
    row = payment_settings_for(seat.merchant.pk)
    stored = {name: getattr(row, name) for name in SECRETS}
    if values is None:
        values = {name: getattr(row, name) for name in PLAIN}
    fields = _fields(stored, values, field_errors(refused) if refused else {})
    try:
        webhook_url = request.build_absolute_uri(
            reverse("api-v1:stripe_webhook", kwargs={"merchant_slug": seat.merchant.slug})
        )
    except NoReverseMatch:  # the endpoint is not there: nothing to point Stripe at
        webhook_url = ""
    return render(
        request,
        "console/admin/payments.html",
        page_context(
            seat,
            rule_field=fields["allocation_rule"],
            stripe_fields=[fields["stripe_secret_key"], fields["stripe_webhook_secret"]],
            paypal_fields=[
                fields["paypal_client_id"],
                fields["paypal_client_secret"],
                fields["paypal_environment"],
            ],
            attempts_field=fields["max_attempts"],
            clearable=[(name, fields[name].label) for name in SECRETS if stored[name]],
            webhook_url=webhook_url,
            problem=problem_for(refused) if refused else "",
        ),
        status=form_status(refused) if refused else 200,
    )


@sensitive_variables()
def _changes(data: Mapping[str, str]) -> dict[str, Any]:
    """What the form asks for, as payment_settings_update takes it: a secret left empty is
    unchanged (""), a ticked "clear" box is None."""
    changes: dict[str, Any] = {name: data.get(name, "").strip() for name in PLAIN}
    attempts = changes["max_attempts"]
    if not attempts.isdigit():
        raise ValidationFailed.on(
            "max_attempts", _("a whole number from 1 to %(max)d") % {"max": MAX_ATTEMPTS}
        )
    changes["max_attempts"] = int(attempts)
    for name in SECRETS:
        changes[name] = None if data.get(f"clear_{name}") == "on" else data.get(name, "").strip()
    return changes


@sensitive_post_parameters(*SECRETS)
@console_page(perm.INTEGRATIONS_MANAGE)
def payment_settings(request: HttpRequest, seat: Seat) -> HttpResponse:
    with merchant_scope(seat.merchant):
        if request.method != "POST":
            return _page(request, seat)
        values = {name: request.POST.get(name, "").strip() for name in PLAIN}
        try:
            payment_settings_update(
                merchant_id=seat.merchant.pk, changes=_changes(request.POST), actor=seat.actor
            )
        except ApplicationError as exc:
            return _page(request, seat, values, refused=exc)
    messages.success(request, _("Payment settings saved."))
    return HttpResponseRedirect(reverse("console:admin_payments", args=[seat.merchant.slug]))


urlpatterns = [
    path("m/<slug:slug>/admin/payments/", payment_settings, name="admin_payments"),
]
