"""A PayPal tender refunded through the official paypal-server-sdk against the replay server,
split with a gift card by the merchant's rule (the gift card back to itself first)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.payments.conftest import paypal_server  # noqa: F401 - the fixture
from tests.payments.servers import ServerHandle
from tests.refunds.conftest import create_return, due_at_once, pay_with

pytestmark = pytest.mark.django_db

TOTAL = 19900 + 2500


def test_a_paypal_and_gift_card_order_is_refunded_to_both(
    api: ApiClient,
    order: dict,
    paypal_server: ServerHandle,  # noqa: F811
    settings: Any,
) -> None:
    settings.RETURNDESK_PAYPAL_API_BASE = paypal_server.url
    creds = paypal_server.credentials
    response = api.put(
        "/payments/settings",
        {
            "paypal_client_id": creds["client_id"],
            "paypal_client_secret": creds["client_secret"],
            "paypal_environment": "sandbox",
        },
    )
    assert response.status_code == 200, response.content
    capture = paypal_server.payment(TOTAL - 3000)
    pay_with(
        api,
        order,
        [
            {
                "method": "gift_card",
                "amount": {"amount": 3000, "currency": "USD"},
                "external_reference": "GC-1234",
            },
            {
                "method": "paypal",
                "amount": {"amount": TOTAL - 3000, "currency": "USD"},
                "provider": "paypal",
                "external_reference": capture,
            },
        ],
    )
    due_at_once(api)
    ran = create_return(api)["ran"]
    issued = api.post(f"/returns/{ran}/refunds", {})
    assert issued.status_code == 201, issued.content
    total = issued.json()["settlement"]["total"]["amount"]
    refunds = {r["provider"]: r for r in issued.json()["refunds"]}
    assert refunds["gift_card"]["amount"]["amount"] == 3000
    assert refunds["gift_card"]["status"] == "succeeded"
    assert refunds["paypal"]["amount"]["amount"] == total - 3000
    assert refunds["paypal"]["status"] == "succeeded"
    (made,) = paypal_server.ledger()
    assert refunds["paypal"]["provider_reference"] == made["id"]
    card = api.get("/gift-cards/GC-1234").json()
    assert "3000" in str(card)
