"""Merchant webhooks (API.md "/webhook-endpoints", docs/webhooks.md): endpoints with their
secret shown once (on create and on rotation, never cached), test pings, the delivery log with
every attempt, and redelivery. Another merchant's endpoint or delivery is 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from returndesk.api.auth import merchant_context
from returndesk.api.pagination import paginate
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS, ProblemOut
from returndesk.core.secrets import secret_hint
from returndesk.notifications import webhooks
from returndesk.notifications.models import WebhookDelivery, WebhookEndpoint
from returndesk.tenants import permissions as perm

router = Router(tags=["webhooks"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut}
CURSOR_PARSE: list[Callable[[Any], Any]] = [datetime.fromisoformat, str]
TYPES_HELP = (
    "event types to receive (empty: every type): " + ", ".join(webhooks.EVENT_TYPES) + ". "
    "A `webhook.ping` is sent only when asked for."
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(_In):
    url: str = Field(
        max_length=1000,
        description="https URL that receives the events (http only to loopback, outside "
        "production)",
    )
    description: str = Field("", max_length=200)
    event_types: list[str] = Field(default_factory=list, max_length=50, description=TYPES_HELP)
    enabled: bool = True


class EndpointPatchIn(_In):
    url: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=200)
    event_types: list[str] | None = Field(None, max_length=50, description=TYPES_HELP)
    enabled: bool | None = Field(
        None, description="false disables (pending deliveries are cancelled); true enables"
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str] = Field(description="empty: every event type")
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="the first failure of a streak with no success since; three days of it "
        "disables the endpoint"
    )
    secret_hint: str = Field(description="the secret's last characters, to tell which it is")
    previous_secret_expires_at: datetime | None = Field(
        description="after a rotation: until when the old secret signs too"
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="the signing secret (`whsec_...`), shown only this once")


class EndpointPage(BaseModel):
    data: list[EndpointOut]
    next_cursor: str | None


class DeliveryAttemptOut(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int | None
    status_code: int | None
    response_excerpt: str = Field(description="the first 500 characters of the answer's body")
    error: str | None
    succeeded: bool
    manual: bool = Field(description="a redelivery or ping that staff asked for")


class DeliveryOut(BaseModel):
    id: str
    endpoint: str
    event_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    event_type: str
    state: Literal["pending", "delivered", "failed", "cancelled"]
    payload: dict[str, Any] = Field(description="the body sent")
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[DeliveryAttemptOut]


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class ListFilters(BaseModel):
    cursor: str | None = Field(None, max_length=500)
    limit: int | None = None


class DeliveryFilters(BaseModel):
    state: Literal["pending", "delivered", "failed", "cancelled"] | None = None
    event_type: str | None = Field(None, max_length=60)
    cursor: str | None = Field(None, max_length=500)
    limit: int | None = None


def endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.public_id,
        "url": e.url,
        "description": e.description,
        "event_types": list(e.event_types),
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason or None,
        "disabled_at": e.disabled_at,
        "failing_since": e.failing_since,
        "secret_hint": secret_hint(e.secret),
        "previous_secret_expires_at": e.previous_secret_expires_at,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def delivery_out(d: WebhookDelivery, endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": d.public_id,
        "endpoint": endpoint.public_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "state": d.state,
        "payload": d.payload,
        "next_attempt_at": d.next_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error or None,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
        "attempts": [
            {
                "number": a.number,
                "started_at": a.started_at,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "response_excerpt": a.response_excerpt,
                "error": a.error or None,
                "succeeded": a.succeeded,
                "manual": a.manual,
            }
            for a in webhooks.webhook_attempts_of(d)
        ],
    }


def _with_secret(endpoint: WebhookEndpoint, secret: str, status: int) -> HttpResponse:
    response = json_response({**endpoint_out(endpoint), "secret": secret}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@router.post("/webhook-endpoints", response={201: EndpointWithSecretOut, **WITH_CONFLICT})
def endpoint_create(request: HttpRequest, payload: EndpointIn) -> HttpResponse:
    """Add an endpoint. The answer holds its signing secret, shown only this once."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (principal, merchant):
        endpoint, secret = webhooks.webhook_endpoint_create(
            actor=principal.actor,
            merchant=merchant,
            url=payload.url,
            description=payload.description,
            event_types=payload.event_types,
            enabled=payload.enabled,
        )
        return _with_secret(endpoint, secret, 201)


@router.get("/webhook-endpoints", response={200: EndpointPage, **PROBLEMS})
def endpoint_list(request: HttpRequest, filters: Query[ListFilters]) -> HttpResponse:
    """The merchant's endpoints, oldest first (secrets only as hints)."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (_, merchant):
        rows, next_cursor = paginate(
            webhooks.webhook_endpoints_query(merchant=merchant),
            ordering=["created_at", "public_id"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=CURSOR_PARSE,
        )
        return json_response({"data": [endpoint_out(e) for e in rows], "next_cursor": next_cursor})


@router.patch("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **PROBLEMS})
def endpoint_update(
    request: HttpRequest, endpoint_id: str, payload: EndpointPatchIn
) -> HttpResponse:
    """Change the URL, description, event types, or enable or disable the endpoint."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (principal, merchant):
        changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
        endpoint = webhooks.webhook_endpoint_update(
            actor=principal.actor, merchant=merchant, public_id=endpoint_id, changes=changes
        )
        return json_response(endpoint_out(endpoint))


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response={200: EndpointWithSecretOut, **PROBLEMS},
)
def endpoint_rotate_secret(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """A new secret, shown only this once. For 24 hours deliveries carry two signatures, one
    with the new secret and one with the old, so receivers can switch without losing events."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (principal, merchant):
        endpoint, secret = webhooks.webhook_endpoint_rotate_secret(
            actor=principal.actor, merchant=merchant, public_id=endpoint_id
        )
        return _with_secret(endpoint, secret, 200)


@router.post("/webhook-endpoints/{endpoint_id}/ping", response={201: DeliveryOut, **WITH_CONFLICT})
def endpoint_ping(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """Send a `webhook.ping` event to this endpoint now, once; answers the delivery with its
    attempt (whether the receiver answered 2xx, what it said, how long it took)."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (principal, merchant):
        delivery = webhooks.webhook_endpoint_ping(
            actor=principal.actor, merchant=merchant, public_id=endpoint_id
        )
        endpoint = webhooks.webhook_endpoint_get(merchant=merchant, public_id=endpoint_id)
        return json_response(delivery_out(delivery, endpoint), status=201)


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response={200: DeliveryPage, **PROBLEMS})
def endpoint_deliveries(
    request: HttpRequest, endpoint_id: str, filters: Query[DeliveryFilters]
) -> HttpResponse:
    """The delivery log, newest first, each delivery with every attempt."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (_, merchant):
        endpoint = webhooks.webhook_endpoint_get(merchant=merchant, public_id=endpoint_id)
        rows, next_cursor = paginate(
            webhooks.webhook_deliveries_query(
                endpoint=endpoint, state=filters.state, event_type=filters.event_type
            ).prefetch_related("tries"),
            ordering=["-created_at", "-public_id"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=CURSOR_PARSE,
        )
        return json_response(
            {"data": [delivery_out(d, endpoint) for d in rows], "next_cursor": next_cursor}
        )


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    response={200: DeliveryOut, **WITH_CONFLICT},
)
def delivery_redeliver(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    """Send a delivery again now, with the same `webhook-id`, whatever its state; a success
    makes it delivered. 409 `delivery_in_progress` while the worker is sending it."""
    with merchant_context(request, perm.WEBHOOKS_MANAGE) as (principal, merchant):
        delivery = webhooks.webhook_delivery_redeliver(
            actor=principal.actor,
            merchant=merchant,
            endpoint_id=endpoint_id,
            delivery_id=delivery_id,
        )
        endpoint = webhooks.webhook_endpoint_get(merchant=merchant, public_id=endpoint_id)
        return json_response(delivery_out(delivery, endpoint))
