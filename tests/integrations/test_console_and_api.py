"""The connection settings (API and console: secrets write-only, stored encrypted) and the
support pages: webhooks received with their detail and retry, write-backs with their retry."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db
from django_scopes import scopes_disabled

from returndesk.core.tenancy import merchant_scope
from returndesk.integrations.models import FAILED, PENDING, InboundWebhook, ShopWriteBack
from returndesk.integrations.selectors import shop_connection_for
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.factories import order_body, product_body
from tests.integrations.factories import shop_rows

pytestmark = pytest.mark.django_db


def test_connections_through_the_api_keep_secrets_write_only(
    api: ApiClient, outsider_api: ApiClient
) -> None:
    empty = api.get("/integrations/shopify").json()
    assert empty["configured"] is False and empty["webhook_secret"] == ""
    assert empty["webhook_url"].endswith("/api/v1/integrations/shopify/acme/webhooks")
    answer = api.put(
        "/integrations/shopify",
        {"shop_url": "https://Acme.myshopify.com/admin", "webhook_secret": "shpss_1234567890"},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["shop_url"] == "acme.myshopify.com" and body["webhook_secret"] == "…7890"
    assert "shpss_1234567890" not in answer.content.decode()
    with db.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM integrations_shopconnection")
        (stored,) = cursor.fetchone()
    assert stored.startswith("fernet:") and "shpss" not in stored
    # "" keeps a secret; write-back needs a token; WooCommerce has no token.
    kept = api.put("/integrations/shopify", {"webhook_secret": "", "api_version": "2025-01"})
    assert kept.json()["webhook_secret"] == "…7890" and kept.json()["api_version"] == "2025-01"
    refused = api.put("/integrations/shopify", {"write_back_refunds": True})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == (
        "write_back_refunds"
    )
    bad = api.put("/integrations/woocommerce", {"access_token": "x", "shop_url": "ftp://x"})
    assert {e["field"] for e in bad.json()["errors"]} == {"access_token", "shop_url"}
    assert api.get("/integrations/magento").status_code == 422
    # Another merchant sees its own (empty) connection, never Acme's.
    assert outsider_api.get("/integrations/shopify").json()["configured"] is False


@pytest.fixture
def seeded(merchant: Merchant, api: ApiClient) -> dict[str, Any]:
    for sku in ("SHOE-1", "SOCK-1"):
        api.put(f"/products/{sku}", product_body())
    api.put("/orders/A-1", order_body())
    inbound, write_back = shop_rows(merchant)
    with scopes_disabled():
        InboundWebhook.objects.filter(public_id=inbound).update(state=FAILED, detail="Refused")
    return {"inbound": inbound, "write_back": write_back}


def test_support_pages_show_and_retry(merchant: Merchant, seeded: dict[str, Any]) -> None:
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    base = "/console/m/acme/admin/integrations/"
    overview = admin.get(base)
    assert overview.status_code == 200 and "acme.myshopify.com" in overview.content.decode()
    assert "shpss_acme_webhook_secret" not in overview.content.decode()
    listed = admin.get(base + "webhooks/?state=failed").content.decode()
    assert seeded["inbound"] in listed
    detail = admin.get(base + f"webhooks/{seeded['inbound']}/").content.decode()
    assert "orders/updated" in detail and "Refused" in detail
    assert admin.post(base + f"webhooks/{seeded['inbound']}/retry/").status_code == 302
    with scopes_disabled():
        assert InboundWebhook.objects.get(public_id=seeded["inbound"]).state == PENDING
    assert "Shopify answered 401" in admin.get(base + "write-backs/").content.decode()
    assert admin.post(base + f"write-backs/{seeded['write_back']}/retry/").status_code == 302
    with scopes_disabled():
        assert ShopWriteBack.objects.get(public_id=seeded["write_back"]).state == "pending"


def test_the_connection_form_saves_and_refuses_in_place(merchant: Merchant) -> None:
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    url = "/console/m/acme/admin/integrations/shopify/"
    assert admin.get(url).status_code == 200
    refused = admin.post(
        url, {"shop_url": "acme.example.com", "webhook_secret": "s3cret-value", "enabled": "on"}
    )
    assert refused.status_code == 422 and "myshopify.com" in refused.content.decode()
    saved = admin.post(
        url,
        {
            "shop_url": "acme.myshopify.com",
            "webhook_secret": "s3cret-value",
            "api_version": "2024-10",
            "enabled": "on",
        },
    )
    assert saved.status_code == 302
    page = admin.get(url).content.decode()
    assert "s3cret-value" not in page and "ending in" in page
    with merchant_scope(merchant):
        row = shop_connection_for(merchant_id=merchant.pk, kind="shopify")
    assert row.webhook_secret == "s3cret-value" and row.enabled
    assert admin.get("/console/m/acme/admin/integrations/magento/").status_code == 404


def test_an_agent_may_not_manage_integrations(merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get("/console/m/acme/admin/integrations/").status_code == 403
    assert agent.post("/console/m/acme/admin/integrations/shopify/", {}).status_code == 403
