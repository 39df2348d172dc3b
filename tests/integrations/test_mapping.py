"""The mapping of shop orders against every example in ../shared/data/payloads/shopify and
../shared/data/payloads/woocommerce (read at run time), written through the catalogue: each
order's paid total is the example's own total, to the cent, and ids stay exact."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order, Product
from returndesk.catalog.services import order_total, paid_total
from returndesk.core.money import Money
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations.mapping import (
    NotAnOrder,
    UnmappableOrder,
    parse_json,
    shopify_order,
    woocommerce_order,
)
from returndesk.integrations.models import ShopOrder
from returndesk.integrations.webhooks import shop_order_apply
from returndesk.tenants.models import Merchant
from tests.integrations.conftest import PAYLOADS, payload, payload_path, shopify_example_order

pytestmark = pytest.mark.needs_data


def cents(text: str) -> int:
    return Money.from_decimal(text, "USD").amount


def db_paid_total(order: Order) -> int:
    lines = [
        (li.unit_price_amount, li.quantity, li.discount_amount, li.tax_amount)
        for li in order.lines.all()
    ]
    return paid_total(
        lines,
        tax_included=order.tax_included,
        shipping=order.shipping_total_amount,
        order_discount=order.order_discount_total_amount,
    )


def woocommerce_examples() -> dict[int, dict[str, Any]]:
    """Every distinct order in WooCommerce's order responses (single, list and batch)."""
    found: dict[int, dict[str, Any]] = {}
    for path in sorted(payload_path("woocommerce", "order_response_0.json").parent.glob("*.json")):
        if not path.name.startswith("order_response_"):
            continue
        body = parse_json(path.read_bytes())
        groups = body.values() if isinstance(body, dict) and "id" not in body else [body]
        for group in groups:
            for order in group if isinstance(group, list) else [group]:
                if order.get("line_items"):
                    found.setdefault(order["id"], order)
    return found


# --- Shopify ---------------------------------------------------------------------------------


def test_every_shopify_example_is_an_order_or_plainly_not_one() -> None:
    folder = payload_path("shopify", "order.json").parent
    seen = {}
    for path in sorted(folder.glob("*.json")):
        try:
            mapped = shopify_order(parse_json(path.read_bytes()))
        except NotAnOrder as exc:
            seen[path.name] = f"not an order: {exc}"
        except UnmappableOrder as exc:
            seen[path.name] = f"unmappable: {exc}"
        else:
            seen[path.name] = f"order {mapped.order.order_number}"
    # orders.json is a list (and its summary has no line items); the rest are other resources
    assert seen.pop("order.json").startswith("unmappable: total_price 409.94 USD")
    assert all(v.startswith("not an order") for v in seen.values()), seen
    assert set(seen) >= {"orders.json", "product.json", "customer.json", "refund.json"}


def test_shopify_order_maps_field_by_field() -> None:
    mapped = shopify_order(shopify_example_order())
    order = mapped.order
    assert (mapped.source, mapped.external_id) == ("shopify", "450789469")
    assert order.order_number == "1001"  # name "#1001" without its '#'
    assert order.currency == "USD" and order.tax_included is False
    assert order.customer.email == "bob.norman@hostmail.com"
    assert order.customer.name == "Bob Norman" and order.customer.external_id == "207119551"
    assert order.shipping_address.country == "US" and order.shipping_address.region == "KY"
    assert [(li.line_id, li.sku, li.quantity, li.unit_price.amount) for li in order.lines] == [
        ("466157049", "IPOD2008GREEN", 1, 19900),
        ("518995019", "IPOD2008RED", 1, 19900),
        ("703073504", "IPOD2008BLACK", 1, 19900),
    ]
    # The lines carry no tax lines here: total_tax is shared over them by value.
    assert sum(li.tax.amount for li in order.lines if li.tax) == cents("11.94")
    assert order.order_discount_total == Money(1000, "USD")  # TENOFF, on no line
    assert order.shipping_total == Money(0, "USD")
    (tender,) = order.tenders
    assert (tender.method, tender.provider, tender.amount.amount) == ("card", "shopify", 59894)
    assert order_total(order) == cents("598.94")


def test_shopify_transactions_become_tenders_with_their_ids() -> None:
    order = shopify_example_order()
    (recorded,) = payload("shopify", "transactions.json")
    # The example's authorisation is for order.json's inconsistent 409.94: not the total, so
    # one tender of the total is used, and the mapping says why.
    fallback = shopify_order(order, transactions=[recorded])
    assert [t.amount.amount for t in fallback.order.tenders] == [59894]
    assert any("do not add up" in n for n in fallback.notes)
    captured = {**recorded, "kind": "capture", "amount": "598.94", "id": 2**53 + 7}
    (tender,) = shopify_order(order, transactions=[recorded, captured]).order.tenders
    assert tender.external_reference == str(2**53 + 7)
    assert (tender.method, tender.amount.amount) == ("card", 59894)


def test_shopify_order_is_written_with_exact_money(merchant: Merchant) -> None:
    mapped = shopify_order(shopify_example_order())
    with merchant_scope(merchant):
        outcome, number = shop_order_apply(merchant=merchant, mapped=mapped)
        order = Order.objects.get(order_number=number)
        assert (outcome, order.source) == ("created", "shopify")
        (summary,) = payload("shopify", "orders.json")["orders"]
        assert db_paid_total(order) == cents(summary["total_price"]) == 59894
        assert sum(t.amount for t in order.tenders.all()) == 59894
        # Unknown SKUs became products named after the line.
        assert Product.objects.get(sku="IPOD2008RED").name == "IPod Nano - 8gb - red"
        link = ShopOrder.objects.get(order=order)
        assert link.external_id == "450789469" and link.gateway == "bogus"
        # The same version again changes nothing.
        assert shop_order_apply(merchant=merchant, mapped=mapped)[0] == "unchanged"


def test_shopify_ids_above_2_53_stay_exact(merchant: Merchant) -> None:
    big = 2**53 + 1  # 9007199254740993: a float would read it as ...992
    order = shopify_example_order()
    order["id"] = big
    order["line_items"] = [{**li, "id": big + 2 * i} for i, li in enumerate(order["line_items"])]
    body = json.dumps(order).encode()
    assert str(big).encode() in body
    mapped = shopify_order(parse_json(body))
    assert mapped.external_id == "9007199254740993"
    with merchant_scope(merchant):
        _, number = shop_order_apply(merchant=merchant, mapped=mapped)
        stored = Order.objects.get(order_number=number)
        assert ShopOrder.objects.get(order=stored).external_id == "9007199254740993"
        assert sorted(stored.lines.values_list("line_id", flat=True)) == [
            "9007199254740993",
            "9007199254740995",
            "9007199254740997",
        ]
    with pytest.raises(UnmappableOrder, match="decimal"):
        shopify_order(parse_json(body.replace(b"9007199254740993,", b"9007199254740993.0,", 1)))


def test_shopify_line_discounts_tax_lines_taxes_included_and_shipping_tax() -> None:
    order = {
        "id": 5001,
        "name": "ACME-5001",
        "currency": "EUR",
        "created_at": "2026-03-01T10:00:00+01:00",
        "updated_at": "2026-03-01T10:05:00+01:00",
        "taxes_included": True,
        "financial_status": "paid",
        "payment_gateway_names": ["gift_card", "shopify_payments"],
        "total_discounts": "15.00",
        "total_tax": "12.47",
        "total_price": "75.00",
        "line_items": [
            {
                "id": 1,
                "sku": "A/1",  # a '/' cannot be a catalogue key: the variant names it
                "variant_id": 77,
                "name": "Shirt",
                "price": "40.00",
                "quantity": 2,
                "discount_allocations": [{"amount": "10.00", "discount_application_index": 0}],
                "tax_lines": [{"price": "11.67", "rate": 0.19, "title": "MwSt"}],
            }
        ],
        "shipping_lines": [
            {
                "price": "10.00",
                "discount_allocations": [{"amount": "5.00"}],
                "tax_lines": [{"price": "0.80", "rate": 0.19}],
            }
        ],
    }
    mapped = shopify_order(order)
    (line,) = mapped.order.lines
    assert (line.sku, line.discount.amount if line.discount else 0) == ("shopify-variant-77", 1000)
    assert line.tax == Money(1167, "EUR")
    # Prices include tax: shipping is what was charged for it (10.00 less 5.00 off).
    assert mapped.order.shipping_total == Money(500, "EUR")
    assert mapped.order.order_discount_total is None  # all 15.00 were allocated
    assert order_total(mapped.order) == 7500  # 2 x 40.00 - 10.00 + 5.00, tax inside
    (tender,) = mapped.order.tenders  # two gateways, no shares: one tender, by hand
    assert (tender.method, tender.amount.amount) == ("other", 7500)
    assert mapped.order.order_number == "ACME-5001"


def test_a_pending_shopify_order_has_no_tender() -> None:
    order = {**shopify_example_order(), "financial_status": "pending"}
    mapped = shopify_order(order)
    assert mapped.order.tenders == () and mapped.paid is False


# --- WooCommerce -----------------------------------------------------------------------------


def test_every_woocommerce_example_is_an_order_or_plainly_not_one() -> None:
    folder = payload_path("woocommerce", "order_response_0.json").parent
    for path in sorted(folder.glob("*.json")):
        body = parse_json(path.read_bytes())
        items = body if isinstance(body, list) else [body]
        for item in items:
            if path.name.startswith("order_response_") and "id" in item:
                assert woocommerce_order(item).external_id == str(item["id"])
            elif not path.name.startswith("order_response_"):
                with pytest.raises(NotAnOrder):
                    woocommerce_order(item)


def test_woocommerce_orders_are_written_with_exact_money(merchant: Merchant) -> None:
    examples = woocommerce_examples()
    assert sorted(examples) == [723, 727, 728, 729]
    with merchant_scope(merchant):
        for raw in examples.values():
            mapped = woocommerce_order(raw)
            _, number = shop_order_apply(merchant=merchant, mapped=mapped)
            order = Order.objects.get(order_number=number)
            assert db_paid_total(order) == cents(raw["total"]), number
            tenders = list(order.tenders.all())
            if raw["status"] == "pending":  # 728: waiting for a bank transfer
                assert tenders == []
            else:
                assert [(t.method, t.amount) for t in tenders] == [("other", cents(raw["total"]))]
            assert order.source == "woocommerce"
        # Lines without a SKU are named after the product (and variation).
        with scopes_disabled():
            assert Product.objects.filter(merchant=merchant, sku="woo-product-22-24").exists()
            assert Product.objects.filter(merchant=merchant, sku="Bar3").exists()
    # Order 728's line taxes (1.125, 0.225 and 0.9 unrounded) add up to its cart_tax, 2.25.
    taxes = [li.tax.amount for li in woocommerce_order(examples[728]).order.lines if li.tax]
    assert sum(taxes) == 225


def test_woocommerce_fees_and_a_subtotal_that_does_not_divide() -> None:
    raw = dict(woocommerce_examples()[727])
    raw["line_items"] = [{**raw["line_items"][0], "subtotal": "6.01", "total": "6.01"}]
    raw["fee_lines"] = [
        {"id": 9, "name": "Gift wrap", "total": "2.00", "total_tax": "0.00"},
        {"id": 10, "name": "Loyalty", "total": "-1.00", "total_tax": "0.00"},
    ]
    raw["cart_tax"] = "0.45"
    raw["total"] = str(Decimal("6.01") + Decimal("0.45") + 2 - 1 + 10)
    mapped = woocommerce_order(raw)
    first, fee = mapped.order.lines
    assert (first.unit_price.amount, first.quantity, first.discount) == (301, 2, Money(1, "USD"))
    assert (fee.line_id, fee.sku, fee.unit_price.amount) == ("fee-9", "woo-fee", 200)
    assert mapped.order.order_discount_total == Money(100, "USD")
    assert order_total(mapped.order) == cents(raw["total"])


def test_the_data_folder_is_read_not_copied() -> None:
    assert PAYLOADS.is_dir()
