"""Shop integrations (administration): a merchant admin connects the merchant's Shopify and
WooCommerce stores, and support looks through the order webhooks those stores sent (stored as
they arrived, with what became of each) and the refunds written back to Shopify, and sends a
failed one through again. Secrets are write-only: the page shows a hint. The integrations
services and selectors do the work and the audit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from returndesk.console.access import Seat
from returndesk.console.views.admin import Field, field_errors, fields_for, form_status, problem_for
from returndesk.console.views.carriers import BODY_SHOWN_BYTES, HEADER_SHOWN_CHARS, shown_text
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.money import Money
from returndesk.core.secrets import secret_hint
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations import selectors
from returndesk.integrations.models import (
    KINDS,
    SHOPIFY,
    WB_FAILED,
    WEBHOOK_STATES,
    WRITE_BACK_STATES,
    ShopConnection,
)
from returndesk.integrations.services import shop_connection_update
from returndesk.integrations.webhooks import RETRIABLE, shop_webhook_retry
from returndesk.integrations.writeback import shop_write_back_retry
from returndesk.tenants import permissions as perm

PAGE = 50
SECRETS = ("webhook_secret", "access_token")
FLAGS = ("enabled", "write_back_refunds")


def kind_names() -> dict[str, str]:
    return {"shopify": _("Shopify"), "woocommerce": _("WooCommerce")}


def state_names() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "processed": _("Processed"),
        "ignored": _("Ignored"),
        "failed": _("Failed"),
        "rejected": _("Rejected"),
        "succeeded": _("Succeeded"),
    }


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise Http404
    return kind


def _hint(value: str) -> str:
    shown = secret_hint(value)
    if not shown:
        return _("Not set.")
    if shown == "set":
        return _("Set. Leave empty to keep it.")
    return _("Set, ending in %(end)s. Leave empty to keep it.") % {"end": shown.lstrip("…")}


def webhook_url(request: HttpRequest, kind: str, slug: str) -> str:
    return request.build_absolute_uri(
        reverse(f"api-v1:{kind}_webhook", kwargs={"merchant_slug": slug})
    )


# --- connections -----------------------------------------------------------------------------


@console_page(perm.INTEGRATIONS_MANAGE, methods=("GET",))
def integrations(request: HttpRequest, seat: Seat) -> HttpResponse:
    names = kind_names()
    with merchant_scope(seat.merchant):
        rows = [
            (
                kind,
                names[kind],
                selectors.shop_connection_for(merchant_id=seat.merchant.pk, kind=kind),
                webhook_url(request, kind, seat.merchant.slug),
                selectors.shop_webhook_counts(merchant_id=seat.merchant.pk, kind=kind),
            )
            for kind in KINDS
        ]
        failing = selectors.shop_write_backs_list(
            merchant_id=seat.merchant.pk, state=WB_FAILED
        ).count()
    return render(
        request,
        "console/integrations/overview.html",
        page_context(
            seat,
            connections=[
                {
                    "kind": kind,
                    "name": name,
                    "row": row,
                    "configured": row.pk is not None,
                    "secret": secret_hint(row.webhook_secret),
                    "url": url,
                    "failed": counts["failed"],
                    "rejected": counts["rejected"],
                }
                for kind, name, row, url, counts in rows
            ],
            failing_write_backs=failing,
        ),
    )


def _fields(
    kind: str, row: ShopConnection, values: Mapping[str, Any], errors: Mapping[str, str]
) -> list[Field]:
    specs = [
        Field(
            "shop_url",
            _("Shop domain") if kind == SHOPIFY else _("Store address"),
            help=_("The shop's myshopify.com domain, e.g. acme.myshopify.com.")
            if kind == SHOPIFY
            else _("The store's address, e.g. https://shop.example."),
        ),
        Field(
            "webhook_secret",
            _("Webhook signing secret"),
            type="password",
            autocomplete="new-password",
            help=_hint(row.webhook_secret),
        ),
    ]
    if kind == SHOPIFY:
        specs += [
            Field(
                "access_token",
                _("Admin API access token"),
                type="password",
                autocomplete="new-password",
                help=_hint(row.access_token),
            ),
            Field(
                "api_version",
                _("Admin API version"),
                help=_("A Shopify release, e.g. 2024-10."),
            ),
        ]
    return fields_for(specs, values, errors)


def _connection_page(
    request: HttpRequest,
    seat: Seat,
    kind: str,
    values: Mapping[str, Any] | None = None,
    refused: ApplicationError | None = None,
) -> HttpResponse:
    row = selectors.shop_connection_for(merchant_id=seat.merchant.pk, kind=kind)
    if values is None:
        values = {
            "shop_url": row.shop_url,
            "api_version": row.api_version,
            "enabled": row.enabled or row.pk is None,
            "write_back_refunds": row.write_back_refunds,
        }
    errors = field_errors(refused) if refused else {}
    return render(
        request,
        "console/integrations/connection.html",
        page_context(
            seat,
            kind=kind,
            kind_name=kind_names()[kind],
            fields=_fields(kind, row, values, errors),
            enabled=bool(values.get("enabled")),
            write_back=bool(values.get("write_back_refunds")),
            write_back_error=errors.get("write_back_refunds", ""),
            clearable=[
                (name, label)
                for name, label in (
                    ("webhook_secret", _("webhook signing secret")),
                    ("access_token", _("Admin API access token")),
                )
                if getattr(row, name)
            ],
            webhook_url=webhook_url(request, kind, seat.merchant.slug),
            problem=problem_for(refused) if refused else "",
        ),
        status=form_status(refused) if refused else 200,
    )


@sensitive_post_parameters(*SECRETS)
@console_page(perm.INTEGRATIONS_MANAGE)
@sensitive_variables("changes", "data")
def connection(request: HttpRequest, seat: Seat, kind: str) -> HttpResponse:
    kind = _kind(kind)
    with merchant_scope(seat.merchant):
        if request.method != "POST":
            return _connection_page(request, seat, kind)
        data = request.POST
        changes: dict[str, Any] = {"shop_url": data.get("shop_url", "").strip()}
        changes["enabled"] = data.get("enabled") == "on"
        for name in SECRETS if kind == SHOPIFY else SECRETS[:1]:
            changes[name] = None if data.get(f"clear_{name}") == "on" else data.get(name, "")
        if kind == SHOPIFY:
            changes["api_version"] = data.get("api_version", "").strip()
            changes["write_back_refunds"] = data.get("write_back_refunds") == "on"
        values = {k: v for k, v in changes.items() if k not in SECRETS}
        try:
            shop_connection_update(
                actor=seat.actor, merchant=seat.merchant, kind=kind, changes=changes
            )
        except ApplicationError as exc:
            return _connection_page(request, seat, kind, values, refused=exc)
    messages.success(request, _("%(name)s connection saved.") % {"name": kind_names()[kind]})
    return HttpResponseRedirect(reverse("console:admin_integrations", args=[seat.merchant.slug]))


# --- inbound webhooks ------------------------------------------------------------------------


@console_page(perm.INTEGRATIONS_MANAGE, methods=("GET",))
def shop_webhooks(request: HttpRequest, seat: Seat) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    state = request.GET.get("state", "")
    state = state if state in WEBHOOK_STATES else ""
    names = state_names()
    with merchant_scope(seat.merchant):
        counts = selectors.shop_webhook_counts(merchant_id=seat.merchant.pk, kind=kind)
        found = selectors.shop_webhooks_list(merchant_id=seat.merchant.pk, kind=kind, state=state)
        page = Paginator(found, PAGE).get_page(request.GET.get("page"))
        hooks = [(h, names.get(h.state, h.state)) for h in page.object_list]
    return render(
        request,
        "console/integrations/webhooks.html",
        page_context(
            seat,
            page=page,
            hooks=hooks,
            kind=kind,
            state=state,
            kinds=list(kind_names().items()),
            states=[
                (
                    s,
                    names[s],
                    counts[s],
                    urlencode({k: v for k, v in (("kind", kind), ("state", s)) if v}),
                )
                for s in WEBHOOK_STATES
            ],
            total=sum(counts.values()),
            all_filter=urlencode({"kind": kind} if kind else {}),
            filters=urlencode({k: v for k, v in (("kind", kind), ("state", state)) if v}),
        ),
    )


@console_page(perm.INTEGRATIONS_MANAGE, methods=("GET",))
def shop_webhook(request: HttpRequest, seat: Seat, inbound_id: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        try:
            hook = selectors.shop_webhook_get(merchant_id=seat.merchant.pk, public_id=inbound_id)
        except NotFound:
            raise Http404 from None
        body = bytes(hook.body)
        headers = hook.headers if isinstance(hook.headers, dict) else {}
    return render(
        request,
        "console/integrations/webhook.html",
        page_context(
            seat,
            hook=hook,
            kind_name=kind_names().get(hook.kind, hook.kind),
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
            retriable=hook.state in RETRIABLE and hook.signature_valid,
        ),
    )


@console_page(perm.INTEGRATIONS_MANAGE, methods=("POST",))
def shop_webhook_retry_view(request: HttpRequest, seat: Seat, inbound_id: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        try:
            shop_webhook_retry(actor=seat.actor, merchant=seat.merchant, public_id=inbound_id)
        except NotFound:
            raise Http404 from None
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Queued for processing again."))
    return HttpResponseRedirect(
        reverse("console:admin_shop_webhook", args=[seat.merchant.slug, inbound_id])
    )


# --- refunds written back to Shopify ---------------------------------------------------------


@console_page(perm.INTEGRATIONS_MANAGE, methods=("GET",))
def write_backs(request: HttpRequest, seat: Seat) -> HttpResponse:
    state = request.GET.get("state", "")
    state = state if state in WRITE_BACK_STATES else ""
    names = state_names()
    with merchant_scope(seat.merchant):
        found = selectors.shop_write_backs_list(merchant_id=seat.merchant.pk, state=state)
        page = Paginator(found, PAGE).get_page(request.GET.get("page"))
        rows = [
            (
                wb,
                names.get(wb.state, wb.state),
                Money(wb.amount, wb.currency).format(),
                wb.shop_order.order.order_number,
            )
            for wb in page.object_list
        ]
    return render(
        request,
        "console/integrations/write_backs.html",
        page_context(
            seat,
            page=page,
            rows=rows,
            state=state,
            states=[(s, names[s]) for s in WRITE_BACK_STATES],
            filters=urlencode({"state": state} if state else {}),
        ),
    )


@console_page(perm.INTEGRATIONS_MANAGE, methods=("POST",))
def write_back_retry_view(request: HttpRequest, seat: Seat, writeback_id: str) -> HttpResponse:
    with merchant_scope(seat.merchant):
        try:
            shop_write_back_retry(actor=seat.actor, merchant=seat.merchant, public_id=writeback_id)
        except NotFound:
            raise Http404 from None
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Queued to be sent to Shopify again."))
    return HttpResponseRedirect(
        reverse("console:admin_shop_write_backs", args=[seat.merchant.slug])
    )


urlpatterns = [
    path("m/<slug:slug>/admin/integrations/", integrations, name="admin_integrations"),
    path(
        "m/<slug:slug>/admin/integrations/webhooks/",
        shop_webhooks,
        name="admin_shop_webhooks",
    ),
    path(
        "m/<slug:slug>/admin/integrations/webhooks/<str:inbound_id>/",
        shop_webhook,
        name="admin_shop_webhook",
    ),
    path(
        "m/<slug:slug>/admin/integrations/webhooks/<str:inbound_id>/retry/",
        shop_webhook_retry_view,
        name="admin_shop_webhook_retry",
    ),
    path(
        "m/<slug:slug>/admin/integrations/write-backs/",
        write_backs,
        name="admin_shop_write_backs",
    ),
    path(
        "m/<slug:slug>/admin/integrations/write-backs/<str:writeback_id>/retry/",
        write_back_retry_view,
        name="admin_shop_write_back_retry",
    ),
    path("m/<slug:slug>/admin/integrations/<str:kind>/", connection, name="admin_integration"),
]
