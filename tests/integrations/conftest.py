"""Fixtures for the shop integrations: connections made through the service, webhooks signed
as Shopify and WooCommerce sign them, the shops' example payloads read at run time from
../shared/data (never copied), and the worker's processing run on demand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations.models import ShopConnection
from returndesk.integrations.services import shop_connection_update
from returndesk.integrations.signatures import signature_of
from returndesk.integrations.webhooks import shop_webhooks_process_due
from returndesk.tenants.models import Merchant
from tests.conftest import require_outside

ACTOR = Actor.system("tests")
PAYLOADS = Path(settings.RETURNDESK_DATA_DIR) / "payloads"
SHOPIFY_SECRET = "shpss_acme_webhook_secret"
WOO_SECRET = "woo acme secret"
TOKEN = "shpat_acme_admin_token"


def payload_path(*parts: str) -> Path:
    path = PAYLOADS.joinpath(*parts)
    require_outside("../shared/data", path.is_file(), f"{path} is absent; a shop's example")
    return path


def payload(*parts: str) -> Any:
    return json.loads(payload_path(*parts).read_text())


def connect(merchant: Merchant, kind: str, **changes: Any) -> ShopConnection:
    defaults: dict[str, Any] = {
        "shopify": {"webhook_secret": SHOPIFY_SECRET, "shop_url": "acme.myshopify.com"},
        "woocommerce": {"webhook_secret": WOO_SECRET, "shop_url": "https://shop.acme.example"},
    }[kind]
    with merchant_scope(merchant):
        return shop_connection_update(
            actor=ACTOR, merchant=merchant, kind=kind, changes={**defaults, **changes}
        )


def shopify_headers(
    body: bytes,
    *,
    secret: str = SHOPIFY_SECRET,
    topic: str = "orders/updated",
    webhook_id: str = "",
    shop: str = "acme.myshopify.com",
) -> dict[str, str]:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": webhook_id or f"wh-{abs(hash(body))}",
    }
    if secret:
        headers["X-Shopify-Hmac-Sha256"] = signature_of(body, secret)
    return headers


def woo_headers(
    body: bytes,
    *,
    secret: str = WOO_SECRET,
    topic: str = "order.updated",
    delivery_id: str = "",
) -> dict[str, str]:
    headers = {
        "X-WC-Webhook-Source": "https://shop.acme.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-ID": "142",
        "X-WC-Webhook-Delivery-ID": delivery_id or f"{abs(hash(body))}",
    }
    if secret:
        headers["X-WC-Webhook-Signature"] = signature_of(body, secret)
    return headers


def post_webhook(kind: str, slug: str, body: bytes, headers: dict[str, str]) -> Any:
    return Client().post(
        f"/api/v1/integrations/{kind}/{slug}/webhooks",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def process_pending(minutes: int = 60) -> int:
    """What the worker would do later: process every pending webhook that is due by then."""
    return shop_webhooks_process_due(now=timezone.now() + timedelta(minutes=minutes))


@pytest.fixture
def shopify_connection(merchant: Merchant) -> ShopConnection:
    return connect(merchant, "shopify")


@pytest.fixture
def woo_connection(merchant: Merchant) -> ShopConnection:
    return connect(merchant, "woocommerce")


def shopify_example_order() -> dict[str, Any]:
    """Shopify's order.json with the totals of the same order in orders.json: the
    documentation's order.json leaves one of its three lines out of its totals (409.94 for
    597.00 of goods, 10.00 off, 11.94 tax); orders.json has them right (598.94)."""
    detail = payload("shopify", "order.json")["order"]
    (summary,) = payload("shopify", "orders.json")["orders"]
    assert summary["id"] == detail["id"]
    fixed = dict(detail)
    for key in (
        "total_price",
        "total_discounts",
        "total_line_items_price",
        "subtotal_price",
        "total_tax",
        "payment_gateway_names",
        "financial_status",
    ):
        fixed[key] = summary[key]
    return fixed


SignedPost = Callable[..., Any]
