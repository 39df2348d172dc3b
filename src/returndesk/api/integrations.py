"""Shop integrations (API.md, docs/integrations.md): a merchant's Shopify and WooCommerce
connections, and the order webhooks those shops send (no API key: the shop's own signature,
with the merchant's secret)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field

from returndesk.api.auth import merchant_context
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS, ProblemOut
from returndesk.core.secrets import secret_hint
from returndesk.integrations import services, webhooks
from returndesk.integrations.models import SHOPIFY, ShopConnection
from returndesk.integrations.selectors import shop_connection_for
from returndesk.tenants import permissions as perm

router = Router(tags=["integrations"])
Kind = Literal["shopify", "woocommerce"]


class ShopConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_url: str | None = Field(
        None,
        max_length=300,
        description="Shopify: the shop's myshopify.com domain; WooCommerce: the store's URL",
    )
    webhook_secret: str | None = Field(
        None,
        max_length=500,
        description='write-only: the secret the shop signs webhooks with; "" keeps the stored '
        "one, null clears it",
    )
    access_token: str | None = Field(
        None, max_length=500, description="write-only, Shopify only: an Admin API access token"
    )
    api_version: str | None = Field(None, max_length=10, description="Shopify only, e.g. 2024-10")
    write_back_refunds: bool | None = Field(
        None, description="Shopify only: write refunds paid in ReturnDesk back to Shopify"
    )
    enabled: bool | None = None


class ShopConnectionOut(BaseModel):
    kind: str
    configured: bool = Field(description="false until the connection is first saved")
    shop_url: str
    webhook_secret: str = Field(description="a hint only: whether it is set, and its end")
    access_token: str = Field(description="a hint only")
    api_version: str
    write_back_refunds: bool
    enabled: bool
    webhook_url: str = Field(description="where to point the shop's order webhooks")


class ShopWebhookOut(BaseModel):
    id: str = Field(description="our id for the stored webhook (the original's, if a duplicate)")
    status: str = Field(
        description="accepted (queued for processing), duplicate (a delivery already stored: "
        "not processed again) or ignored (stored; another topic, a ping, a disabled connection)"
    )


def connection_out(request: HttpRequest, row: ShopConnection, slug: str) -> dict[str, Any]:
    shopify = row.kind == SHOPIFY
    return {
        "kind": row.kind,
        "configured": row.pk is not None,
        "shop_url": row.shop_url,
        "webhook_secret": secret_hint(row.webhook_secret),
        "access_token": secret_hint(row.access_token) if shopify else "",
        "api_version": row.api_version if shopify else "",
        "write_back_refunds": row.write_back_refunds,
        "enabled": row.enabled,
        "webhook_url": request.build_absolute_uri(
            reverse(f"api-v1:{row.kind}_webhook", kwargs={"merchant_slug": slug})
        ),
    }


@router.get("/integrations/{kind}", response={200: ShopConnectionOut, **PROBLEMS})
def shop_connection_get(request: HttpRequest, kind: Kind) -> HttpResponse:
    """The merchant's connection to a shop system; secrets as hints only."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (_, merchant):
        row = shop_connection_for(merchant_id=merchant.pk, kind=kind)
        return json_response(connection_out(request, row, merchant.slug))


@router.put("/integrations/{kind}", response={200: ShopConnectionOut, **PROBLEMS})
def shop_connection_put(
    request: HttpRequest, kind: Kind, payload: ShopConnectionIn
) -> HttpResponse:
    """Create or change the connection: what is given changes, the rest stays. Secrets are
    write-only; write_back_refunds needs the shop's domain and an access token."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (principal, merchant):
        row = services.shop_connection_update(
            actor=principal.actor,
            merchant=merchant,
            kind=kind,
            changes=payload.model_dump(exclude_unset=True),
        )
        return json_response(connection_out(request, row, merchant.slug))


def _receive(request: HttpRequest, kind: str, merchant_slug: str) -> HttpResponse:
    received = webhooks.shop_webhook_receive(
        kind=kind, merchant_slug=merchant_slug, body=request.body, headers=request.headers
    )
    body = {"id": received.id, "status": received.status}
    return json_response(body, 202 if received.status == "accepted" else 200)


WEBHOOK_RESPONSES: dict[int, Any] = {
    200: ShopWebhookOut,
    202: ShopWebhookOut,
    401: ProblemOut,
    404: ProblemOut,
    413: ProblemOut,
}


@router.post(
    "/integrations/shopify/{merchant_slug}/webhooks",
    auth=None,
    url_name="shopify_webhook",
    response=WEBHOOK_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Shopify's order webhook (`X-Shopify-Topic`: orders/create, "
            "orders/updated, orders/fulfilled), signed over the raw bytes with the merchant's "
            "secret (`X-Shopify-Hmac-Sha256`); `X-Shopify-Webhook-Id` deduplicates.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def shopify_webhook(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """An order from the merchant's Shopify store. Stored raw, then processed by a task: 202
    when accepted, 200 for a delivery already stored or one that is stored and ignored. An
    unsigned or tampered one is stored as rejected and answers 401; a merchant without a
    Shopify connection 404."""
    return _receive(request, SHOPIFY, merchant_slug)


@router.post(
    "/integrations/woocommerce/{merchant_slug}/webhooks",
    auth=None,
    url_name="woocommerce_webhook",
    response=WEBHOOK_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "WooCommerce's order webhook (`X-WC-Webhook-Topic`: order.created, "
            "order.updated), signed over the raw bytes with the webhook's secret "
            "(`X-WC-Webhook-Signature`); `X-WC-Webhook-Delivery-ID` deduplicates. WooCommerce's "
            "unsigned `webhook_id=N` ping when a webhook is saved answers 200.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def woocommerce_webhook(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """An order from the merchant's WooCommerce store; as for Shopify."""
    return _receive(request, "woocommerce", merchant_slug)
