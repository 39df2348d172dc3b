"""Store credit (finance): look up a customer's balance and ledger by e-mail, correct it with a
reason or reverse what is left of one credit (both audit-logged), and set how long new store
credit lasts. One page; each form posts its `action` and checks its own permission."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from returndesk.console.access import Seat
from returndesk.console.views.admin import field_errors, form_status, problem_for
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.money import Money, MoneyError, currency_exponent, validate_currency
from returndesk.core.tenancy import merchant_scope
from returndesk.credit import selectors, services
from returndesk.tenants import permissions as perm

PAGE = 50
ACTIONS = {
    "adjust": perm.STORE_CREDIT_ADJUST,
    "reverse": perm.STORE_CREDIT_ADJUST,
    "settings": perm.MERCHANT_SETTINGS,
}


def _page_url(slug: str, email: str) -> str:
    url = reverse("console:store_credit", args=[slug])
    return f"{url}?{urlencode({'email': email})}" if email else url


def _minor_units(text: str, currency: str) -> int:
    """A positive amount typed in major units ("12.50") as minor units of `currency`."""
    try:
        amount = Money.from_decimal(text.strip().replace(",", "."), currency).amount
    except MoneyError:
        raise ValidationFailed.on(
            "amount",
            _("An amount in %(currency)s with at most %(places)d decimal places, such as %(e)s.")
            % {
                "currency": currency,
                "places": currency_exponent(currency),
                "e": Money(1250, currency).to_decimal(),
            },
        ) from None
    if amount <= 0:
        raise ValidationFailed.on("amount", _("Enter an amount above zero."))
    return amount


def _reason(text: str) -> str:
    if not text.strip():
        raise ValidationFailed.on(
            "reason", _("Say why: the reason goes to the ledger and the audit log.")
        )
    return text


def _validity(text: str) -> int | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise ValidationFailed.on(
            "store_credit_validity_days", _("A whole number of days, or empty for never.")
        )
    return int(cleaned)


def _act(request: HttpRequest, seat: Seat, action: str) -> str:
    """Run one form's action; answers the message to show after the redirect."""
    data = request.POST
    merchant = seat.merchant
    if action == "settings":
        row = services.credit_settings_update(
            merchant=merchant,
            store_credit_validity_days=_validity(data.get("store_credit_validity_days", "")),
            actor=seat.actor,
        )
        days = row.store_credit_validity_days
        if days is None:
            return _("Saved: new store credit never expires.")
        return _("Saved: new store credit lasts %(days)d days.") % {"days": days}
    if action == "adjust":
        currency = data.get("currency", "") or merchant.currency
        try:
            validate_currency(currency)
        except MoneyError:
            raise ValidationFailed.on("currency", _("Choose a currency from the list.")) from None
        amount = _minor_units(data.get("amount", ""), currency)
        entry = services.store_credit_adjust(
            merchant=merchant,
            email=data.get("email", ""),
            currency=currency,
            amount=-amount if data.get("direction") == "remove" else amount,
            reason=_reason(data.get("reason", "")),
            reference=data.get("reference", ""),
            actor=seat.actor,
        )
    else:
        entry = services.store_credit_reverse(
            merchant=merchant,
            issue_reference=data.get("issue_reference", ""),
            reason=_reason(data.get("reason", "")),
            reference=data.get("reference", ""),
            actor=seat.actor,
        )
    if entry.replayed:
        return _("That change was already recorded.")
    return _("Recorded. The balance is now %(balance)s.") % {
        "balance": Money(entry.balance_after_amount, entry.currency).format("en")
    }


@console_page(perm.STORE_CREDIT_VIEW)
def store_credit(request: HttpRequest, seat: Seat) -> HttpResponse:
    merchant = seat.merchant
    email = (request.POST if request.method == "POST" else request.GET).get("email", "").strip()
    errors: dict[str, str] = {}
    problem = ""
    failed = ""
    status = 200
    with merchant_scope(merchant):
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action not in ACTIONS:
                return HttpResponse(status=400)
            seat.require(ACTIONS[action])
            try:
                done = _act(request, seat, action)
            except ApplicationError as exc:
                errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
                failed = action
            else:
                messages.success(request, done)
                return HttpResponseRedirect(_page_url(merchant.slug, email))
        view = None
        page = None
        unknown = False
        if email:
            try:
                view = selectors.store_credit_account(merchant=merchant, email=email)
            except NotFound:
                unknown = True  # a search that found nothing, as on the returns list
            else:
                page = Paginator(view.entries, PAGE).get_page(request.GET.get("page"))
        settings = selectors.credit_settings_for(merchant=merchant)
        context: dict[str, Any] = {
            "email": email,
            "view": view,
            "page": page,
            "unknown": unknown,
            "problem": problem,
            "failed": failed,
            "errors": errors,
            "posted": request.POST if failed else {},
            "can_adjust": seat.can(perm.STORE_CREDIT_ADJUST),
            "can_configure": seat.can(perm.MERCHANT_SETTINGS),
            "validity_days": settings.store_credit_validity_days,
            "reference": new_public_id("adj"),
            "currencies": sorted(
                {merchant.currency, *(b.currency for b in (view.balances if view else []))}
            ),
        }
        return render(
            request, "console/store_credit.html", page_context(seat, **context), status=status
        )


urlpatterns = [path("m/<slug:slug>/store-credit/", store_credit, name="store_credit")]
