"""Rows of the integrations app for tests of other pages (the console's isolation test): a
signed webhook received for the merchant, and a failed write-back of a refund of one of its
orders. No ../shared/data needed."""

from __future__ import annotations

import json

from django.utils import timezone

from returndesk.catalog.models import Order
from returndesk.core.ids import new_public_id
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations.models import WB_FAILED, ShopOrder, ShopWriteBack
from returndesk.integrations.signatures import signature_of
from returndesk.integrations.webhooks import shop_webhook_receive
from returndesk.tenants.models import Merchant
from tests.integrations.conftest import SHOPIFY_SECRET, connect


def shop_rows(merchant: Merchant) -> tuple[str, str]:
    """(a stored webhook's public id, a failed write-back's public id) for `merchant`, which
    must have an order."""
    connect(merchant, "shopify")
    body = json.dumps({"id": 1, "line_items": [], "currency": "USD"}).encode()
    received = shop_webhook_receive(
        kind="shopify",
        merchant_slug=merchant.slug,
        body=body,
        headers={
            "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Hmac-Sha256": signature_of(body, SHOPIFY_SECRET),
            "X-Shopify-Webhook-Id": "isolation",
        },
    )
    with merchant_scope(merchant):
        order = Order.objects.order_by("pk").first()
        assert order is not None
        link = ShopOrder.objects.create(
            merchant=merchant,
            kind="shopify",
            external_id="1",
            order=order,
            source_updated_at=timezone.now(),
        )
        write_back = ShopWriteBack.objects.create(
            merchant=merchant,
            public_id=new_public_id("swb"),
            refund_id=new_public_id("rfd"),
            event_id=new_public_id("evt"),
            shop_order=link,
            currency=order.currency,
            amount=100,
            method="card",
            provider="manual",
            state=WB_FAILED,
            last_error="Shopify answered 401",
        )
    return received.id, write_back.public_id
