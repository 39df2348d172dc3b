"""Inbound order webhooks end to end: signed as the shops sign them, stored raw, deduplicated,
processed by the worker (with retries), never letting an older version overwrite a newer one,
and refusing what is unsigned, tampered, or signed with another merchant's secret."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations import webhooks
from returndesk.integrations.models import (
    FAILED,
    IGNORED,
    PENDING,
    PROCESSED,
    REJECTED,
    InboundWebhook,
    ShopConnection,
    ShopOrder,
)
from returndesk.integrations.webhooks import shop_webhook_process, shop_webhook_retry
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.factories import order_body, product_body
from tests.integrations.conftest import (
    ACTOR,
    connect,
    payload,
    post_webhook,
    process_pending,
    shopify_example_order,
    shopify_headers,
    woo_headers,
)

pytestmark = [pytest.mark.django_db, pytest.mark.needs_data]


def rows(**filters: Any) -> list[InboundWebhook]:
    with scopes_disabled():
        return list(InboundWebhook.objects.filter(**filters).order_by("pk"))


def order_of(merchant: Merchant, number: str) -> Order:
    with merchant_scope(merchant):
        return Order.objects.prefetch_related("lines", "tenders").get(order_number=number)


def shopify_body(**changes: Any) -> bytes:
    return json.dumps({**shopify_example_order(), **changes}).encode()


def test_a_signed_shopify_order_is_stored_then_written(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    body = shopify_body()
    answer = post_webhook("shopify", "acme", body, shopify_headers(body, topic="orders/create"))
    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "accepted"
    (row,) = rows()
    assert (row.state, row.signature_valid, bytes(row.body)) == (PENDING, True, body)
    assert row.headers["X-Shopify-Topic"] == "orders/create" and row.resource_id == "450789469"
    assert "X-Shopify-Hmac-Sha256" in row.headers
    assert shop_webhook_process(webhook_id=row.pk) == PROCESSED  # the task's first attempt
    order = order_of(merchant, "1001")
    assert sum(t.amount for t in order.tenders.all()) == 59894
    row.refresh_from_db()
    assert row.order_number == "1001" and "created" in row.detail


def test_woocommerce_orders_from_every_example_arrive_by_webhook(
    merchant: Merchant, woo_connection: ShopConnection
) -> None:
    single = payload("woocommerce", "order_response_0.json")
    batch = payload("woocommerce", "order_response_5.json")
    for order in [single, *batch["create"]]:
        body = json.dumps(order).encode()
        answer = post_webhook("woocommerce", "acme", body, woo_headers(body, topic="order.created"))
        assert answer.status_code == 202, answer.content
    assert process_pending() == 3
    for order in [single, *batch["create"]]:
        stored = order_of(merchant, order["number"])
        lines = stored.lines.all()
        total = sum(
            li.unit_price_amount * li.quantity - li.discount_amount + li.tax_amount for li in lines
        )
        assert total + stored.shipping_total_amount == round(float(order["total"]) * 100)


def test_woocommerce_ping_answers_200_and_is_kept(
    merchant: Merchant, woo_connection: ShopConnection
) -> None:
    answer = post_webhook("woocommerce", "acme", b"webhook_id=142", {})
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    (row,) = rows()
    assert row.state == IGNORED and "ping" in row.detail


@pytest.mark.parametrize("how", ["unsigned", "tampered", "other secret", "other shop"])
def test_unsigned_or_tampered_webhooks_are_401_and_stored_rejected(
    merchant: Merchant, shopify_connection: ShopConnection, how: str
) -> None:
    body = shopify_body()
    headers = {
        "unsigned": shopify_headers(body, secret=""),
        "tampered": shopify_headers(body),
        "other secret": shopify_headers(body, secret="shpss_someone_else"),
        "other shop": shopify_headers(body, shop="globex.myshopify.com"),
    }[how]
    sent = body.replace(b"199.00", b"1.00") if how == "tampered" else body
    answer = post_webhook("shopify", "acme", sent, headers)
    assert answer.status_code == 401, answer.content
    assert answer.json()["code"] == "unauthenticated"
    (row,) = rows()
    assert (row.state, row.signature_valid, bytes(row.body)) == (REJECTED, False, sent)
    assert process_pending() == 0
    with merchant_scope(merchant):
        assert not Order.objects.exists()


def test_another_merchants_slug_or_secret_is_refused(
    merchant: Merchant, other_merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    body = shopify_body()
    # Globex has no Shopify connection: nothing to store the webhook under.
    assert post_webhook("shopify", "globex", body, shopify_headers(body)).status_code == 404
    assert post_webhook("shopify", "nobody", body, shopify_headers(body)).status_code == 404
    connect(
        other_merchant, "shopify", webhook_secret="shpss_globex", shop_url="globex.myshopify.com"
    )
    # Acme's webhook sent to Globex's URL, and Globex's secret used on Acme's URL: refused.
    assert post_webhook("shopify", "globex", body, shopify_headers(body)).status_code == 401
    signed_by_globex = shopify_headers(body, secret="shpss_globex", shop="acme.myshopify.com")
    assert post_webhook("shopify", "acme", body, signed_by_globex).status_code == 401
    assert [(r.merchant_id, r.state) for r in rows()] == [
        (other_merchant.pk, REJECTED),
        (merchant.pk, REJECTED),
    ]
    # Each merchant's own webhook goes through, to its own orders only.
    globex = shopify_headers(body, secret="shpss_globex", shop="globex.myshopify.com")
    assert post_webhook("shopify", "globex", body, globex).status_code == 202
    process_pending()
    with merchant_scope(merchant):
        assert not Order.objects.exists()
    assert order_of(other_merchant, "1001").merchant_id == other_merchant.pk


def test_a_duplicate_delivery_is_200_and_not_processed_again(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    body = shopify_body()
    headers = shopify_headers(body, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    first = post_webhook("shopify", "acme", body, headers)
    again = post_webhook("shopify", "acme", body, headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"id": first.json()["id"], "status": "duplicate"}
    (row,) = rows()
    assert row.duplicates == 1
    assert process_pending() == 1
    assert post_webhook("shopify", "acme", body, headers).json()["status"] == "duplicate"
    assert process_pending() == 0
    assert len(rows()) == 1


def test_out_of_order_updates_never_overwrite_newer_data(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    newer = shopify_example_order()
    newer["updated_at"] = "2008-01-12T09:00:00-05:00"
    newer["email"] = "bob.new@hostmail.com"
    older = {**shopify_example_order(), "updated_at": "2008-01-11T09:00:00-05:00"}
    older["email"] = "bob.old@hostmail.com"
    for version in (newer, older):  # the newer one arrives first
        body = json.dumps(version).encode()
        assert post_webhook("shopify", "acme", body, shopify_headers(body)).status_code == 202
    process_pending()
    first, second = rows()
    assert (first.state, second.state) == (PROCESSED, IGNORED)
    assert "before the version already applied" in second.detail
    assert order_of(merchant, "1001").email == "bob.new@hostmail.com"
    with merchant_scope(merchant):
        link = ShopOrder.objects.get()
    assert link.source_updated_at.isoformat() == "2008-01-12T14:00:00+00:00"
    # A later change goes through, and keeps the number the order was first written under.
    latest = {**newer, "updated_at": "2008-01-13T09:00:00-05:00", "name": "#1001-EDITED"}
    latest["email"] = "bob.latest@hostmail.com"
    body = json.dumps(latest).encode()
    post_webhook("shopify", "acme", body, shopify_headers(body))
    process_pending()
    assert order_of(merchant, "1001").email == "bob.latest@hostmail.com"


def test_processing_failures_are_retried_then_processed(
    merchant: Merchant, shopify_connection: ShopConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = shopify_body()
    post_webhook("shopify", "acme", body, shopify_headers(body))
    (row,) = rows()
    real = webhooks.orders_upsert
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("database is locked")
        return real(**kwargs)

    monkeypatch.setattr(webhooks, "orders_upsert", flaky)
    assert shop_webhook_process(webhook_id=row.pk) == PENDING
    row.refresh_from_db()
    assert row.attempts == 1 and "Will retry: OperationalError" in row.detail
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    assert webhooks.shop_webhooks_process_due() == 0  # not due yet
    assert process_pending(minutes=2) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == (PROCESSED, 2)


def test_a_task_lost_with_its_worker_is_picked_up_by_the_sweep(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    body = shopify_body()
    post_webhook("shopify", "acme", body, shopify_headers(body))
    (row,) = rows()
    with scopes_disabled():  # a worker claimed it and died
        InboundWebhook.objects.filter(pk=row.pk).update(
            claimed_until=timezone.now() + timedelta(minutes=5), claimed_by="dead"
        )
    assert shop_webhook_process(webhook_id=row.pk) == "skipped"
    assert process_pending(minutes=10) == 1


def test_refused_orders_fail_visibly_and_support_can_retry(
    merchant: Merchant, api: ApiClient, shopify_connection: ShopConnection
) -> None:
    # An order 1001 from the merchant's own system is there first: the shop's is not merged in.
    for sku in ("SHOE-1", "SOCK-1"):
        assert api.put(f"/products/{sku}", product_body()).status_code in (200, 201)
    assert api.put("/orders/1001", order_body()).status_code in (200, 201)
    body = shopify_body()
    post_webhook("shopify", "acme", body, shopify_headers(body))
    process_pending()
    (row,) = rows()
    assert row.state == FAILED and "already exists (from api)" in row.detail
    with merchant_scope(merchant):
        Order.objects.filter(order_number="1001").delete()
        shop_webhook_retry(actor=ACTOR, merchant=merchant, public_id=row.public_id)
    row.refresh_from_db()
    assert row.state == PENDING
    process_pending()
    row.refresh_from_db()
    assert row.state == PROCESSED


def test_other_topics_and_a_disabled_connection_are_stored_and_ignored(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    body = shopify_body()
    answer = post_webhook("shopify", "acme", body, shopify_headers(body, topic="orders/cancelled"))
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    connect(merchant, "shopify", enabled=False)
    answer = post_webhook("shopify", "acme", body, shopify_headers(body, webhook_id="x-2"))
    assert answer.status_code == 200
    assert [(r.state, r.signature_valid) for r in rows()] == [(IGNORED, True), (IGNORED, True)]
    assert "switched off" in rows()[1].detail


def test_a_body_that_is_not_an_order_is_ignored_and_unreadable_money_fails(
    merchant: Merchant, shopify_connection: ShopConnection
) -> None:
    product = json.dumps(payload("shopify", "product.json")).encode()
    post_webhook("shopify", "acme", product, shopify_headers(product))
    broken = json.dumps(payload("shopify", "order.json")["order"]).encode()  # 409.94 of 608.94
    post_webhook("shopify", "acme", broken, shopify_headers(broken))
    process_pending()
    first, second = rows()
    assert first.state == IGNORED and "Not an order" in first.detail
    assert second.state == FAILED and "total_price 409.94 USD" in second.detail
