"""The calculator on real order shapes, read at run time from ../shared/data (never copied):
Online Retail invoices, and the Shopify and WooCommerce order examples. Each is mapped to the
calculator's input the way an import would, and a full return refunds exactly what was paid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from returndesk.catalog.importing import online_retail
from returndesk.catalog.importing.base import ParsedOrder
from returndesk.catalog.inputs import OrderInput
from returndesk.core.money import Money, allocate
from returndesk.policies.document import PolicyDocument
from returndesk.refunds.calculator import (
    PaidLine,
    PaidOrder,
    PriorRefunds,
    RefundRequest,
    ReturnedLine,
    calculate,
    line_paid_totals,
)
from returndesk.refunds.tenders import Tender
from tests.conftest import require_outside

POLICY = PolicyDocument()
PAYLOADS = Path(settings.RETURNDESK_DATA_DIR) / "payloads"


def payload(*parts: str) -> Any:
    path = PAYLOADS.joinpath(*parts)
    require_outside("../shared/data", path.is_file(), f"{path} is absent; a shop's order example")
    return json.loads(path.read_text())


def everything_back(order: PaidOrder, reason: str = "defective") -> RefundRequest:
    return RefundRequest(tuple(ReturnedLine(li.line_id, li.quantity, reason) for li in order.lines))


# ---- Online Retail ------------------------------------------------------------------------------


def paid_order_from_input(data: OrderInput) -> PaidOrder:
    """An imported order as the calculator sees it (what a selector will build from the rows)."""
    return PaidOrder(
        order_number=data.order_number,
        currency=data.currency,
        lines=tuple(
            PaidLine(
                line_id=li.line_id,
                sku=li.sku,
                quantity=li.quantity,
                unit_price=li.unit_price.amount,
                discount=li.discount.amount if li.discount else 0,
                tax=li.tax.amount if li.tax else 0,
            )
            for li in data.lines
        ),
        tenders=tuple(
            Tender(str(i + 1), t.method, t.amount.amount, t.amount.currency, t.provider)
            for i, t in enumerate(data.tenders)
        ),
        tax_included=data.tax_included,
        shipping_total=data.shipping_total.amount if data.shipping_total else 0,
        order_discount_total=data.order_discount_total.amount if data.order_discount_total else 0,
    )


@pytest.fixture(scope="module")
def retail_orders(online_retail_file: Path) -> list[PaidOrder]:
    def orders() -> Iterator[PaidOrder]:
        for event in online_retail.parse(online_retail_file):
            if isinstance(event, ParsedOrder):
                yield paid_order_from_input(event.order)

    return list(islice(orders(), 2_000))


def test_online_retail_orders_returned_whole_refund_what_was_paid_by_hand(
    retail_orders: list[PaidOrder],
) -> None:
    assert len(retail_orders) == 2_000
    for order in retail_orders:
        result = calculate(POLICY, order, everything_back(order))
        assert result.total.amount == order.total, order.order_number
        (part,) = result.allocations
        # The file records no payment method: the importer's tender is `other`, paid by hand.
        assert (part.method, part.provider, part.amount.amount) == ("other", "manual", order.total)


def test_online_retail_orders_returned_unit_by_unit_lose_no_penny(
    retail_orders: list[PaidOrder],
) -> None:
    wholesale = max(retail_orders, key=lambda o: max(li.quantity for li in o.lines))
    assert max(li.quantity for li in wholesale.lines) >= 1_000  # a real wholesale line
    for order in [wholesale, *retail_orders[:200]]:
        prior = PriorRefunds()
        for step in range(3):  # a third, a third, then the rest of every line
            lines = []
            for li in order.lines:
                done = prior.units.get(li.line_id, 0)
                count = li.quantity - done if step == 2 else li.quantity // 3
                if count:
                    lines.append(ReturnedLine(li.line_id, count, "changed_mind"))
            if lines:
                prior = prior.plus(calculate(POLICY, order, RefundRequest(tuple(lines)), prior))
        assert prior.lines == line_paid_totals(order)
        assert sum(prior.tenders.values()) == order.total  # no shipping on these invoices


# ---- Shopify ------------------------------------------------------------------------------------


def _money(text: str, currency: str) -> int:
    return Money.from_decimal(text, currency).amount


def shopify_order(order: dict[str, Any], paid_total: int) -> PaidOrder:
    """Shopify's order JSON as the calculator's input. `price` is per unit; a line's discount is
    its `discount_allocations`; tax is the line's `tax_lines`, or, when the lines carry none (the
    documentation example), the order's `total_tax` shared by line price (largest remainder);
    `discount_codes` not allocated to lines are an order discount; shipping is `shipping_lines`.
    The payment is one card tender through the order's gateway."""
    currency = order["currency"]
    items = order["line_items"]
    prices = [_money(li["price"], currency) * li["quantity"] for li in items]
    line_taxes = [
        sum(_money(t["price"], currency) for t in li.get("tax_lines", [])) for li in items
    ]
    if not any(line_taxes):
        line_taxes = allocate(_money(order["total_tax"], currency), prices)
    line_discounts = [
        sum(_money(d["amount"], currency) for d in li.get("discount_allocations", []))
        for li in items
    ]
    code_discounts = sum(_money(d["amount"], currency) for d in order.get("discount_codes") or [])
    return PaidOrder(
        order_number=str(order["order_number"]),
        currency=currency,
        lines=tuple(
            PaidLine(
                line_id=str(li["id"]),
                sku=li["sku"],
                quantity=li["quantity"],
                unit_price=_money(li["price"], currency),
                discount=discount,
                tax=tax,
                name=li["name"],
            )
            for li, discount, tax in zip(items, line_discounts, line_taxes, strict=True)
        ),
        tenders=(Tender("1", "card", paid_total, currency, provider=order["gateway"]),),
        tax_included=order["taxes_included"],
        shipping_total=sum(_money(s["price"], currency) for s in order["shipping_lines"]),
        order_discount_total=0 if any(line_discounts) else code_discounts,
    )


def test_shopify_order_returned_whole_refunds_its_total_price() -> None:
    detail = payload("shopify", "order.json")["order"]
    (summary,) = payload("shopify", "orders.json")["orders"]
    assert summary["id"] == detail["id"]
    # The documentation's order.json is not self-consistent (its total_price, 409.94, leaves out
    # one of its three 199.00 lines); orders.json has the same order's totals right: 597.00 of
    # goods, 10.00 off (TENOFF), 11.94 tax, no shipping = 598.94.
    paid = _money(summary["total_price"], "USD")
    order = shopify_order(detail, paid)
    assert order.total == paid == 59894
    result = calculate(POLICY, order, everything_back(order))
    assert result.total.amount == paid
    (part,) = result.allocations
    assert (part.method, part.provider, part.amount.amount) == ("card", "manual", paid)
    assert "no authorize_net adapter" in part.reason


def test_shopify_refund_calculation_shares_the_cart_discount_as_we_do() -> None:
    detail = payload("shopify", "order.json")["order"]
    (suggested,) = payload("shopify", "refund_calculate.json")["refund"]["refund_line_items"]
    order = shopify_order(detail, 59894)
    request = RefundRequest((ReturnedLine(str(suggested["line_item_id"]), 1, "changed_mind"),))
    (line,) = calculate(POLICY, order, request).lines
    # Shopify's own suggestion for this line: 3.33 of the 10.00 cart discount, 195.67 subtotal,
    # 3.98 tax.
    assert line.order_discount.amount == _money(suggested["total_cart_discount_amount"], "USD")
    assert line.gross.amount - line.order_discount.amount == _money(suggested["subtotal"], "USD")
    assert line.tax.amount == _money(suggested["total_tax"], "USD")
    assert line.paid.amount == 19965


# ---- WooCommerce --------------------------------------------------------------------------------


def woocommerce_orders() -> dict[int, dict[str, Any]]:
    """Every distinct order in the documentation's order responses (single, list and batch)."""
    found: dict[int, dict[str, Any]] = {}
    for i in range(6):
        body = payload("woocommerce", f"order_response_{i}.json")
        groups = body.values() if isinstance(body, dict) and "id" not in body else [body]
        for group in groups:
            for order in group if isinstance(group, list) else [group]:
                if order.get("line_items"):
                    found.setdefault(order["id"], order)
    return found


def woocommerce_order(order: dict[str, Any]) -> PaidOrder:
    """WooCommerce's order JSON as the calculator's input. A line's `subtotal` is before
    coupons and `total` after them (coupons are already shared over the lines, so there is no
    order discount left). WooCommerce may round tax at the order level: order 728's lines show
    1.13, 0.23 and 0.90 (from 1.125, 0.225 and 0.9 in their `taxes`) against 2.25 paid, so each
    line's tax is the order's `cart_tax` shared over the unrounded line taxes by largest
    remainder. Shipping is each shipping line's total and tax. Payment methods such as `bacs`
    (bank transfer) are `other`, refunded by hand."""
    currency = order["currency"]
    unrounded = [
        sum((Decimal(t["total"]) for t in li["taxes"]), Decimal(0)) for li in order["line_items"]
    ]
    taxes = allocate(_money(order["cart_tax"], currency), [int(t.scaleb(6)) for t in unrounded])
    lines = []
    for li, tax in zip(order["line_items"], taxes, strict=True):
        subtotal = Money.from_decimal(li["subtotal"], currency).amount
        unit_price, rest = divmod(subtotal, li["quantity"])
        assert rest == 0, li
        lines.append(
            PaidLine(
                line_id=str(li["id"]),
                sku=li["sku"] or f"product-{li['product_id']}",
                quantity=li["quantity"],
                unit_price=unit_price,
                discount=subtotal - _money(li["total"], currency),
                tax=tax,
                name=li["name"],
            )
        )
    assert not order.get("fee_lines"), "fee lines are not mapped"
    method = {"stripe": "card", "ppcp-gateway": "paypal"}.get(order["payment_method"], "other")
    return PaidOrder(
        order_number=str(order["id"]),
        currency=currency,
        lines=tuple(lines),
        tenders=(Tender("1", method, _money(order["total"], currency), currency),),
        tax_included=order["prices_include_tax"],
        shipping_total=sum(
            _money(s["total"], currency) + _money(s["total_tax"], currency)
            for s in order["shipping_lines"]
        ),
    )


def test_woocommerce_orders_returned_whole_refund_their_total() -> None:
    orders = woocommerce_orders()
    assert sorted(orders) == [723, 727, 728, 729]
    for raw in orders.values():
        order = woocommerce_order(raw)
        assert order.total == _money(raw["total"], "USD")
        result = calculate(POLICY, order, everything_back(order))
        assert result.total.amount == order.total
        assert [(a.provider, a.amount.amount) for a in result.allocations] == [
            ("manual", order.total)
        ]
        # The store's own customer-paid returns keep the shipping.
        kept = calculate(POLICY, order, everything_back(order, "changed_mind"))
        assert kept.total.amount == order.total - order.shipping_total


def test_woocommerce_refunds_of_order_723_replayed_as_two_returns() -> None:
    order = woocommerce_order(woocommerce_orders()[723])
    refunds = payload("woocommerce", "refund_response_2.json")
    by_line = next(r for r in refunds if r["line_items"])
    (item,) = by_line["line_items"]
    returned = next(m["value"] for m in item["meta_data"] if m["key"] == "_refunded_item_id")
    first = calculate(
        POLICY, order, RefundRequest((ReturnedLine(returned, -item["quantity"], "changed_mind"),))
    )
    assert first.total.amount == _money(by_line["amount"], "USD") == 900
    rest = [li for li in order.lines if li.line_id != returned]
    second = calculate(
        POLICY,
        order,
        RefundRequest(tuple(ReturnedLine(li.line_id, li.quantity, "wrong_item") for li in rest)),
        PriorRefunds().plus(first),
    )
    # The store refunded the 10.00 shipping separately; here it comes with the wrong item.
    assert second.shipping.amount.amount == 1000
    assert first.total.amount + second.total.amount == order.total == 3900
