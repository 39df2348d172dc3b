"""Request bodies for the API, as a merchant's system would send them."""

from __future__ import annotations

from typing import Any


def money(amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Trail Runner",
        "category": "footwear",
        "price": money(8900),
        "accessories": [{"code": "laces", "name": "Spare laces", "value": money(300)}],
        "packing_instructions": "Both shoes in the original box.",
        "weight_grams": 900,
    }
    body.update(overrides)
    return body


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": {"email": "  Shopper@Example.COM ", "name": "Sam Shopper"},
        "placed_at": "2026-11-01T10:00:00-05:00",
        "delivered_at": "2026-11-04T15:30:00-05:00",
        "currency": "USD",
        "shipping_address": {
            "name": "Sam Shopper",
            "line1": "1 Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "shipping_total": money(500),
        "lines": [
            {
                "line_id": "1",
                "sku": "SHOE-1",
                "quantity": 2,
                "unit_price": money(8900),
                "discount": money(1000),
                "tax": money(1400),
            },
            {"line_id": "2", "sku": "SOCK-1", "quantity": 1, "unit_price": money(1200)},
        ],
        "tenders": [
            {"method": "gift_card", "amount": money(2000), "external_reference": "GC-1"},
            {
                "method": "card",
                "amount": money(17900),
                "external_reference": "ch_1",
                "provider": "stripe",
            },
        ],
    }
    body.update(overrides)
    return body


def make_facility(merchant: Any, *, code: str = "FAC1", name: str, region: str = "") -> Any:
    """A returns centre in Newark serving `merchant`, made through the service."""
    from returndesk.core.actors import Actor
    from returndesk.tenants.services import facility_create

    return facility_create(
        actor=Actor.system("tests"),
        code=code,
        name=name,
        line1="1 Dock Rd",
        city="Newark",
        region=region,
        postal_code="07102",
        country="US",
        merchant_slugs=[merchant.slug],
    )
