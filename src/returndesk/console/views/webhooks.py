"""Webhook pages: a merchant admin adds endpoints (the secret is shown once), changes them,
rotates the secret, disables or enables them, sends a test ping, and reads the delivery log
with every attempt, redelivering one when the receiver is fixed. notifications.webhooks does
the work and the audit."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from returndesk.console.access import Seat
from returndesk.console.views.admin import Field, field_errors, fields_for, form_status, problem_for
from returndesk.console.views.carriers import shown_text
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.secrets import secret_hint
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications import webhooks
from returndesk.notifications.models import WebhookDelivery, WebhookEndpoint
from returndesk.tenants import permissions as perm

DELIVERIES_PAGE = 50
STATES = ("pending", "delivered", "failed", "cancelled")
STATE_CLASSES = {
    "pending": "status-pending",
    "delivered": "status-succeeded",
    "failed": "status-failed",
    "cancelled": "status-rejected",
}


def state_names() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "delivered": _("Delivered"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
    }


def endpoint_fields(values: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    return fields_for(
        [
            Field(
                "url",
                _("URL"),
                type="url",
                required=True,
                help=_("Where the events are sent, e.g. https://erp.example.com/returndesk."),
            ),
            Field(
                "description",
                _("Description"),
                help=_("What receives them, e.g. ERP or warehouse system."),
            ),
        ],
        values,
        errors,
    )


def event_choices(chosen: list[str]) -> list[tuple[str, bool]]:
    return [(name, name in chosen) for name in webhooks.EVENT_TYPES]


def _posted(request: HttpRequest) -> dict[str, Any]:
    return {
        "url": request.POST.get("url", "").strip(),
        "description": request.POST.get("description", "").strip(),
        "event_types": request.POST.getlist("event_types"),
    }


def _secret_page(
    request: HttpRequest, seat: Seat, endpoint: WebhookEndpoint, secret: str, rotated: bool
) -> HttpResponse:
    # the one and only time the secret is shown: this answer must not be kept anywhere
    response = render(
        request,
        "console/webhooks/secret.html",
        page_context(seat, endpoint=endpoint, secret=secret, rotated=rotated),
    )
    add_never_cache_headers(response)
    return response


def _endpoint(seat: Seat, endpoint_id: str) -> WebhookEndpoint:
    try:
        return webhooks.webhook_endpoint_get(merchant=seat.merchant, public_id=endpoint_id)
    except NotFound:
        raise Http404 from None


@console_page(perm.WEBHOOKS_MANAGE)
@sensitive_variables("secret")
def endpoints(request: HttpRequest, seat: Seat) -> HttpResponse:
    values: dict[str, Any] = {"url": "", "description": "", "event_types": []}
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = _posted(request)
        try:
            endpoint, secret = webhooks.webhook_endpoint_create(
                actor=seat.actor,
                merchant=seat.merchant,
                url=values["url"],
                description=values["description"],
                event_types=values["event_types"],
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
        else:
            return _secret_page(request, seat, endpoint, secret, rotated=False)
    with merchant_scope(seat.merchant):
        found = list(
            webhooks.webhook_endpoints_query(merchant=seat.merchant).order_by("created_at")
        )
    return render(
        request,
        "console/webhooks/endpoints.html",
        page_context(
            seat,
            endpoints=found,
            fields=endpoint_fields(values, errors),
            events=event_choices(values["event_types"]),
            events_error=next((v for k, v in errors.items() if k.startswith("event_types")), ""),
            problem=problem,
        ),
        status=status,
    )


@console_page(perm.WEBHOOKS_MANAGE)
def endpoint_detail(request: HttpRequest, seat: Seat, endpoint_id: str) -> HttpResponse:
    endpoint = _endpoint(seat, endpoint_id)
    values: dict[str, Any] = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
    }
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = _posted(request)
        try:
            webhooks.webhook_endpoint_update(
                actor=seat.actor,
                merchant=seat.merchant,
                public_id=endpoint.public_id,
                changes=values,
            )
        except ApplicationError as exc:
            errors, problem, status = field_errors(exc), problem_for(exc), form_status(exc)
        else:
            messages.success(request, _("Endpoint saved."))
            return HttpResponseRedirect(
                reverse("console:admin_webhook", args=[seat.merchant.slug, endpoint.public_id])
            )
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    with merchant_scope(seat.merchant):
        found = webhooks.webhook_deliveries_query(endpoint=endpoint, state=state or None)
        page = Paginator(found.order_by("-created_at", "-pk"), DELIVERIES_PAGE).get_page(
            request.GET.get("page")
        )
        rows = list(page.object_list)
    names = state_names()
    return render(
        request,
        "console/webhooks/endpoint.html",
        page_context(
            seat,
            endpoint=endpoint,
            secret_hint=secret_hint(endpoint.secret),
            fields=endpoint_fields(values, errors),
            events=event_choices(values["event_types"]),
            events_error=next((v for k, v in errors.items() if k.startswith("event_types")), ""),
            problem=problem,
            page=page,
            deliveries=[
                (d, names.get(d.state, d.state), STATE_CLASSES.get(d.state, "")) for d in rows
            ],
            state=state,
            states=[(s, names[s]) for s in STATES],
        ),
        status=status,
    )


@console_page(perm.WEBHOOKS_MANAGE, methods=("POST",))
@sensitive_variables("secret")
def endpoint_rotate(request: HttpRequest, seat: Seat, endpoint_id: str) -> HttpResponse:
    try:
        endpoint, secret = webhooks.webhook_endpoint_rotate_secret(
            actor=seat.actor, merchant=seat.merchant, public_id=endpoint_id
        )
    except NotFound:
        raise Http404 from None
    return _secret_page(request, seat, endpoint, secret, rotated=True)


@console_page(perm.WEBHOOKS_MANAGE, methods=("POST",))
def endpoint_enabled(request: HttpRequest, seat: Seat, endpoint_id: str, on: bool) -> HttpResponse:
    try:
        webhooks.webhook_endpoint_update(
            actor=seat.actor,
            merchant=seat.merchant,
            public_id=endpoint_id,
            changes={"enabled": on},
        )
    except NotFound:
        raise Http404 from None
    messages.success(
        request,
        _("Endpoint enabled: new events are sent to it.")
        if on
        else _(
            "Endpoint disabled: nothing more is sent to it, and waiting deliveries are cancelled."
        ),
    )
    return HttpResponseRedirect(
        reverse("console:admin_webhook", args=[seat.merchant.slug, endpoint_id])
    )


def _send_and_tell(request: HttpRequest, send: Callable[[], WebhookDelivery], done: str) -> None:
    """Make a staff attempt and say how the receiver answered it."""
    try:
        delivery = send()
    except NotFound:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, exc.detail)
        return
    code = delivery.last_status_code
    if not delivery.last_error and code is not None and 200 <= code < 300:
        messages.success(request, done + " " + _("Delivered (HTTP %(code)s).") % {"code": code})
    else:
        why = delivery.last_error or _("no answer")
        messages.error(request, done + " " + _("Not delivered: %(why)s.") % {"why": why})


@console_page(perm.WEBHOOKS_MANAGE, methods=("POST",))
def endpoint_ping(request: HttpRequest, seat: Seat, endpoint_id: str) -> HttpResponse:
    _send_and_tell(
        request,
        lambda: webhooks.webhook_endpoint_ping(
            actor=seat.actor, merchant=seat.merchant, public_id=endpoint_id
        ),
        _("Test ping sent."),
    )
    return HttpResponseRedirect(
        reverse("console:admin_webhook", args=[seat.merchant.slug, endpoint_id])
    )


@console_page(perm.WEBHOOKS_MANAGE, methods=("GET",))
def delivery_detail(
    request: HttpRequest, seat: Seat, endpoint_id: str, delivery_id: str
) -> HttpResponse:
    endpoint = _endpoint(seat, endpoint_id)
    try:
        delivery = webhooks.webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
    except NotFound:
        raise Http404 from None
    with merchant_scope(seat.merchant):
        tries = webhooks.webhook_attempts_of(delivery)
    return render(
        request,
        "console/webhooks/delivery.html",
        page_context(
            seat,
            endpoint=endpoint,
            delivery=delivery,
            state_name=state_names().get(delivery.state, delivery.state),
            state_class=STATE_CLASSES.get(delivery.state, ""),
            attempts=[(a, shown_text(a.response_excerpt), shown_text(a.error)) for a in tries],
            body=json.dumps(delivery.payload, indent=2, ensure_ascii=False),
        ),
    )


@console_page(perm.WEBHOOKS_MANAGE, methods=("POST",))
def delivery_redeliver(
    request: HttpRequest, seat: Seat, endpoint_id: str, delivery_id: str
) -> HttpResponse:
    _send_and_tell(
        request,
        lambda: webhooks.webhook_delivery_redeliver(
            actor=seat.actor,
            merchant=seat.merchant,
            endpoint_id=endpoint_id,
            delivery_id=delivery_id,
        ),
        _("Sent again."),
    )
    return HttpResponseRedirect(
        reverse(
            "console:admin_webhook_delivery", args=[seat.merchant.slug, endpoint_id, delivery_id]
        )
    )


urlpatterns = [
    path("m/<slug:slug>/admin/webhooks/", endpoints, name="admin_webhooks"),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/",
        endpoint_detail,
        name="admin_webhook",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/rotate/",
        endpoint_rotate,
        name="admin_webhook_rotate",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/disable/",
        endpoint_enabled,
        {"on": False},
        name="admin_webhook_disable",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/enable/",
        endpoint_enabled,
        {"on": True},
        name="admin_webhook_enable",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/ping/",
        endpoint_ping,
        name="admin_webhook_ping",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/",
        delivery_detail,
        name="admin_webhook_delivery",
    ),
    path(
        "m/<slug:slug>/admin/webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver/",
        delivery_redeliver,
        name="admin_webhook_redeliver",
    ),
]
