"""Shop orders as ReturnDesk orders: Shopify's and WooCommerce's order JSON to `OrderInput`.

Pure: no Django, no database. A parsed JSON object in (parse it with `parse_json`, which keeps
every number exact: integers as Python ints of any size, decimals as `Decimal`), a
`MappedOrder` out, or `NotAnOrder` / `UnmappableOrder` with the reason. The catalogue service
then validates and writes it like any other order (docs/integrations.md has the field-by-field
table and the reasons for each choice).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from returndesk.catalog.inputs import (
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    TenderInput,
)
from returndesk.core.money import Money, MoneyError, allocate

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"

MAX_KEY = 64  # the catalogue's limit for order numbers, line ids and SKUs
_BAD_KEY = re.compile(r"[/\x00-\x1f]")

# Shopify payment gateways by what the shopper paid with. Anything else is `other` (refunded by
# hand): a gateway we do not know is not assumed to be a card.
SHOPIFY_CARD_GATEWAYS = frozenset(
    {
        "shopify_payments",
        "bogus",  # Shopify's test gateway: a card form
        "authorize_net",
        "stripe",
        "braintree",
        "adyen",
        "checkout_com",
        "cybersource",
        "moneris",
        "worldpay",
        "square",
    }
)
# Shopify financial statuses under which the order total has been taken (or authorised to be).
SHOPIFY_PAID = frozenset(
    {"authorized", "paid", "partially_refunded", "refunded"},
)
WOO_CARD_METHODS = frozenset(
    {"stripe", "stripe_cc", "woocommerce_payments", "square_credit_card", "braintree_credit_card"}
)
WOO_PAYPAL_METHODS = frozenset({"ppcp-gateway", "paypal", "ppec_paypal"})
# WooCommerce statuses of an order nobody has paid for (yet, or ever).
WOO_UNPAID = frozenset({"pending", "failed", "checkout-draft"})


class NotAnOrder(ValueError):
    """The body is not an order this mapping reads (another resource, a ping, not JSON)."""


class UnmappableOrder(ValueError):
    """An order whose fields cannot be read as money, dates or keys: the reason says which."""


@dataclass(frozen=True)
class MappedOrder:
    """One shop order, ready for `catalog.services.orders_upsert(allow_new_products=True)`."""

    source: str  # shopify | woocommerce
    external_id: str  # the shop's own order id, exactly as sent (a string of digits)
    updated_at: datetime  # the shop's last change: older versions never overwrite newer ones
    order: OrderInput
    gateway: str = ""  # how the shopper paid, as the shop names it
    paid: bool = True  # False: no tender was written (the order is not paid yet)
    notes: tuple[str, ...] = field(default=())  # choices made that support may want to see


def parse_json(body: bytes) -> Any:
    """JSON with exact numbers: big integers stay ints, decimals become `Decimal`."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAnOrder(f"the body is not JSON ({exc})") from None


# --- shared helpers --------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _id(value: Any, what: str) -> str:
    """An id as the exact string of its digits; an id sent as a float cannot be trusted."""
    if isinstance(value, bool) or value is None:
        raise UnmappableOrder(f"{what} is missing")
    if isinstance(value, Decimal):
        raise UnmappableOrder(f"{what} {value} is a decimal number; ids must be exact integers")
    text = str(value).strip()
    if not text:
        raise UnmappableOrder(f"{what} is missing")
    return text


def _money(value: Any, currency: str, what: str) -> int:
    if value is None or value == "":
        return 0
    try:
        return Money.from_decimal(str(value), currency).amount
    except MoneyError as exc:
        raise UnmappableOrder(f"{what}: {exc}") from None


def _when(value: Any, what: str, *, naive_is_utc: bool = False) -> datetime:
    text = _text(value)
    if not text:
        raise UnmappableOrder(f"{what} is missing")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UnmappableOrder(f"{what} '{text}' is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise UnmappableOrder(f"{what} '{text}' has no time zone")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _key_ok(value: str) -> bool:
    return (
        bool(value)
        and len(value) <= MAX_KEY
        and not _BAD_KEY.search(value)
        and (value == value.strip())
    )


def _sku(given: Any, placeholder: str, notes: list[str], line_id: str) -> str:
    """The line's SKU, or a placeholder named after the shop's product when it has none (or
    one the catalogue cannot key on: over 64 characters, a '/', control characters)."""
    sku = _text(given)
    if _key_ok(sku):
        return sku
    if sku:
        notes.append(f"line {line_id}: SKU '{sku[:80]}' cannot be a catalogue key; {placeholder}")
    return placeholder


def _name(first: Any, last: Any, fallback: Any = "") -> str:
    joined = " ".join(p for p in (_text(first), _text(last)) if p)
    return joined or _text(fallback)


def _unwrap(payload: Any, key: str) -> Mapping[str, Any]:
    if isinstance(payload, Mapping) and isinstance(payload.get(key), Mapping):
        payload = payload[key]
    if not isinstance(payload, Mapping):
        raise NotAnOrder("the body is not a JSON object")
    return payload


# --- Shopify ---------------------------------------------------------------------------------


def shopify_order_number(order: Mapping[str, Any]) -> str:
    """The order's number as the shopper knows it: Shopify's `name` ("#1001", or with the
    shop's own prefix and suffix) without the leading '#'; `order_number`, then the id, when
    there is no name."""
    name = _text(order.get("name")).lstrip("#").strip()
    if name:
        return name
    number = _text(order.get("order_number"))
    return number or _id(order.get("id"), "id")


def shopify_tender_method(gateway: str) -> str:
    name = gateway.strip().lower()
    if "paypal" in name:
        return "paypal"
    if name in SHOPIFY_CARD_GATEWAYS:
        return "card"
    return "other"  # gift cards included: a Shopify gift card is not ReturnDesk's to credit


def _shopify_tenders(
    order: Mapping[str, Any],
    transactions: Sequence[Mapping[str, Any]] | None,
    currency: str,
    total: int,
    notes: list[str],
) -> tuple[TenderInput, ...]:
    if transactions:
        taken: dict[str, tuple[int, str]] = {}  # parent transaction id -> (amount, gateway)
        kinds = [_text(t.get("kind")) for t in transactions if _text(t.get("status")) == "success"]
        paying = {"sale", "capture"} if {"sale", "capture"} & set(kinds) else {"authorization"}
        for t in transactions:
            if _text(t.get("status")) != "success" or _text(t.get("kind")) not in paying:
                continue
            amount = _money(t.get("amount"), currency, f"transaction {t.get('id')} amount")
            taken[_id(t.get("id"), "transaction id")] = (amount, _text(t.get("gateway")))
        if taken and sum(a for a, _ in taken.values()) == total:
            return tuple(
                TenderInput(
                    method=shopify_tender_method(gateway),
                    amount=Money(amount, currency),
                    external_reference=tid,
                    provider=SHOPIFY,
                )
                for tid, (amount, gateway) in taken.items()
                if amount > 0
            )
        notes.append("the transactions do not add up to the order total; one tender is used")
    gateways = [_text(g) for g in order.get("payment_gateway_names") or [] if _text(g)]
    if not gateways and _text(order.get("gateway")):
        gateways = [_text(order.get("gateway"))]
    if len(set(gateways)) > 1:
        notes.append(
            f"paid through {', '.join(gateways)} in shares the order does not tell: one tender "
            "of the total, refunded by hand"
        )
        method = "other"
    else:
        method = shopify_tender_method(gateways[0]) if gateways else "other"
    return (
        TenderInput(
            method=method,
            amount=Money(total, currency),
            provider=SHOPIFY,
        ),
    )


def shopify_order(
    payload: Any, *, transactions: Sequence[Mapping[str, Any]] | None = None
) -> MappedOrder:
    """Shopify's order (a webhook body, or the REST API's `{"order": ...}`) as an order.

    See docs/integrations.md, "Shopify", for every field and why.
    """
    order = _unwrap(payload, "order")
    if "line_items" not in order or "currency" not in order:
        raise NotAnOrder("the body has no line_items or no currency: not an order")
    external_id = _id(order.get("id"), "id")
    currency = _text(order.get("currency")).upper()
    if not currency:
        raise UnmappableOrder("currency is missing")
    notes: list[str] = []
    items = [li for li in order.get("line_items") or [] if isinstance(li, Mapping)]
    taxes_included = bool(order.get("taxes_included"))

    line_ids: list[str] = []
    prices: list[int] = []
    discounts: list[int] = []
    line_taxes: list[int] = []
    for li in items:
        line_id = _id(li.get("id"), "line_items[].id")
        quantity = li.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise UnmappableOrder(f"line {line_id}: quantity '{quantity}' is not a whole number")
        line_ids.append(line_id)
        prices.append(_money(li.get("price"), currency, f"line {line_id} price"))
        if "discount_allocations" in li:
            discounts.append(
                sum(
                    _money(d.get("amount"), currency, f"line {line_id} discount")
                    for d in li.get("discount_allocations") or []
                )
            )
        else:
            discounts.append(_money(li.get("total_discount"), currency, f"line {line_id} discount"))
        line_taxes.append(
            sum(
                _money(t.get("price"), currency, f"line {line_id} tax")
                for t in li.get("tax_lines") or []
            )
        )

    shipping = 0
    shipping_discount = 0
    shipping_tax = 0
    for s in order.get("shipping_lines") or []:
        shipping += _money(s.get("price"), currency, "shipping_lines[].price")
        shipping_discount += sum(
            _money(d.get("amount"), currency, "shipping discount")
            for d in s.get("discount_allocations") or []
        )
        shipping_tax += sum(
            _money(t.get("price"), currency, "shipping tax") for t in s.get("tax_lines") or []
        )

    if not any(line_taxes) and items:
        # The lines carry no tax lines (older payloads): the order's tax less the shipping's,
        # shared over the lines by what they cost after their discounts (largest remainder).
        goods_tax = _money(order.get("total_tax"), currency, "total_tax") - shipping_tax
        if goods_tax > 0:
            weights = [
                max(0, p * li["quantity"] - d)
                for p, li, d in zip(prices, items, discounts, strict=True)
            ]
            line_taxes = allocate(goods_tax, weights)
            notes.append("the lines carry no tax lines: total_tax shared over them by value")

    if order.get("total_discounts") is not None:
        all_discounts = _money(order.get("total_discounts"), currency, "total_discounts")
    else:
        all_discounts = sum(
            _money(d.get("amount"), currency, "discount_codes[].amount")
            for d in order.get("discount_codes") or []
        )
    order_discount = max(0, all_discounts - sum(discounts) - shipping_discount)

    lines = tuple(
        OrderLineInput(
            line_id=line_id,
            sku=_sku(
                li.get("sku"),
                f"shopify-variant-{li['variant_id']}"
                if li.get("variant_id")
                else f"shopify-line-{line_id}",
                notes,
                line_id,
            ),
            quantity=li["quantity"],
            unit_price=Money(price, currency),
            discount=Money(discount, currency) if discount else None,
            tax=Money(tax, currency) if tax else None,
            product_name=(_text(li.get("name")) or _text(li.get("title")))[:300],
        )
        for line_id, li, price, discount, tax in zip(
            line_ids, items, prices, discounts, line_taxes, strict=True
        )
    )
    address = order.get("shipping_address") or order.get("billing_address") or {}
    customer = order.get("customer") or {}
    email = _text(order.get("email")) or _text(order.get("contact_email"))
    email = email or _text(customer.get("email"))
    shipping_total = shipping - shipping_discount + (0 if taxes_included else shipping_tax)
    computed = (
        sum(
            p * li["quantity"] - d + (0 if taxes_included else t)
            for p, li, d, t in zip(prices, items, discounts, line_taxes, strict=True)
        )
        + shipping_total
        - order_discount
    )
    total_price = _money(order.get("total_price"), currency, "total_price")
    financial = _text(order.get("financial_status"))
    paid = financial in SHOPIFY_PAID
    if financial == "partially_paid":
        notes.append("partially paid: no tender until Shopify says it is paid")
    if total_price != computed:
        raise UnmappableOrder(
            f"total_price {Money(total_price, currency)} is not what the lines, discounts, tax "
            f"and shipping add up to ({Money(computed, currency)}); the order is not imported "
            "until Shopify sends a version whose money agrees"
        )
    tenders = (
        _shopify_tenders(order, transactions, currency, total_price, notes)
        if paid and total_price > 0
        else ()
    )
    delivered = [
        _when(f.get("updated_at"), "fulfillments[].updated_at")
        for f in order.get("fulfillments") or []
        if isinstance(f, Mapping) and _text(f.get("shipment_status")) == "delivered"
    ]
    placed_at = _when(order.get("processed_at") or order.get("created_at"), "created_at")
    gateways = [_text(g) for g in order.get("payment_gateway_names") or [] if _text(g)]
    return MappedOrder(
        source=SHOPIFY,
        external_id=external_id,
        updated_at=_when(order.get("updated_at") or order.get("created_at"), "updated_at"),
        gateway=", ".join(gateways) or _text(order.get("gateway")),
        paid=bool(tenders),
        notes=tuple(notes),
        order=OrderInput(
            order_number=shopify_order_number(order),
            placed_at=placed_at,
            delivered_at=max(delivered) if delivered else None,
            currency=currency,
            lines=lines,
            customer=CustomerInput(
                email=email,
                name=_name(
                    customer.get("first_name"), customer.get("last_name"), address.get("name")
                ),
                phone=(_text(customer.get("phone")) or _text(order.get("phone")))[:40],
                external_id=_text(customer.get("id")),
            ),
            shipping_address=AddressInput(
                name=_text(address.get("name"))
                or _name(address.get("first_name"), address.get("last_name")),
                line1=_text(address.get("address1")),
                line2=_text(address.get("address2")),
                city=_text(address.get("city")),
                region=_text(address.get("province_code")) or _text(address.get("province")),
                postal_code=_text(address.get("zip")),
                country=_text(address.get("country_code")).upper(),
            ),
            tax_included=taxes_included,
            shipping_total=Money(shipping_total, currency),
            order_discount_total=Money(order_discount, currency) if order_discount else None,
            tenders=tenders,
            source=SHOPIFY,
        ),
    )


# --- WooCommerce -----------------------------------------------------------------------------


def woocommerce_tender(method: str, transaction_id: str) -> tuple[str, str]:
    """(tender method, provider) for WooCommerce's `payment_method`. A Stripe or PayPal payment
    that names its charge or capture goes back through that provider; everything else is
    refunded by hand."""
    name = method.strip().lower()
    if name in WOO_CARD_METHODS:
        provider = "stripe" if transaction_id.startswith(("ch_", "pi_")) else WOOCOMMERCE
        return "card", provider
    if name in WOO_PAYPAL_METHODS:
        return "paypal", "paypal" if transaction_id else WOOCOMMERCE
    return "other", WOOCOMMERCE


def woocommerce_order(payload: Any) -> MappedOrder:
    """WooCommerce's order (a webhook body or the REST API's order) as an order.

    See docs/integrations.md, "WooCommerce", for every field and why.
    """
    order = _unwrap(payload, "order")
    if "line_items" not in order or "currency" not in order:
        raise NotAnOrder("the body has no line_items or no currency: not an order")
    external_id = _id(order.get("id"), "id")
    currency = _text(order.get("currency")).upper()
    if not currency:
        raise UnmappableOrder("currency is missing")
    notes: list[str] = []
    items = [li for li in order.get("line_items") or [] if isinstance(li, Mapping)]

    # WooCommerce may round tax at the order level (its lines' rounded taxes need not add up to
    # cart_tax): cart_tax is shared over the lines by their unrounded taxes.
    unrounded: list[int] = []
    for li in items:
        exact = sum((Decimal(str(t.get("total") or 0)) for t in li.get("taxes") or []), Decimal(0))
        if not li.get("taxes"):
            exact = Decimal(str(li.get("total_tax") or 0))
        unrounded.append(max(0, int(exact.scaleb(6))))
    cart_tax = _money(order.get("cart_tax"), currency, "cart_tax")
    taxes = allocate(cart_tax, unrounded) if items else []

    lines: list[OrderLineInput] = []
    for li, tax in zip(items, taxes, strict=True):
        line_id = _id(li.get("id"), "line_items[].id")
        quantity = li.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise UnmappableOrder(f"line {line_id}: quantity '{quantity}' is not a whole number")
        subtotal = _money(li.get("subtotal"), currency, f"line {line_id} subtotal")
        total = _money(li.get("total"), currency, f"line {line_id} total")
        unit_price = -(-subtotal // quantity)  # rounded up: what does not divide is discount
        product = _id(li.get("product_id"), f"line {line_id} product_id")
        variation = _text(li.get("variation_id"))
        placeholder = f"woo-product-{product}" + (
            f"-{variation}" if variation not in ("", "0") else ""
        )
        lines.append(
            OrderLineInput(
                line_id=line_id,
                sku=_sku(li.get("sku"), placeholder, notes, line_id),
                quantity=quantity,
                unit_price=Money(unit_price, currency),
                discount=Money(unit_price * quantity - total, currency)
                if unit_price * quantity != total
                else None,
                tax=Money(tax, currency) if tax else None,
                product_name=_text(li.get("name"))[:300],
            )
        )
    order_discount = 0
    for fee in order.get("fee_lines") or []:
        fee_id = _id(fee.get("id"), "fee_lines[].id")
        amount = _money(fee.get("total"), currency, f"fee {fee_id} total")
        fee_tax = _money(fee.get("total_tax"), currency, f"fee {fee_id} tax")
        if amount < 0:  # a negative fee is a discount on the whole order
            order_discount += -amount - fee_tax
            continue
        lines.append(
            OrderLineInput(
                line_id=f"fee-{fee_id}",
                sku="woo-fee",
                quantity=1,
                unit_price=Money(amount, currency),
                tax=Money(fee_tax, currency) if fee_tax else None,
                product_name=_text(fee.get("name"))[:300] or "Fee",
            )
        )
        notes.append(f"fee '{_text(fee.get('name'))}' is a line of its own (SKU woo-fee)")
    shipping_total = sum(
        _money(s.get("total"), currency, "shipping_lines[].total")
        + _money(s.get("total_tax"), currency, "shipping_lines[].total_tax")
        for s in order.get("shipping_lines") or []
    )
    computed = (
        sum(
            line.unit_price.amount * line.quantity
            - (line.discount.amount if line.discount else 0)
            + (line.tax.amount if line.tax else 0)
            for line in lines
        )
        + shipping_total
        - order_discount
    )
    total = _money(order.get("total"), currency, "total")
    status = _text(order.get("status"))
    paid = status not in WOO_UNPAID and (
        bool(_text(order.get("date_paid_gmt")) or _text(order.get("date_paid")))
        or status in ("processing", "completed", "refunded")
    )
    if total != computed:
        raise UnmappableOrder(
            f"total {Money(total, currency)} is not what the lines, tax, fees and shipping add "
            f"up to ({Money(computed, currency)})"
        )
    method = _text(order.get("payment_method"))
    reference = _text(order.get("transaction_id"))
    tender_method, provider = woocommerce_tender(method, reference)
    tenders = (
        (
            TenderInput(
                method=tender_method,
                amount=Money(total, currency),
                external_reference=reference[:200],
                provider=provider,
            ),
        )
        if paid and total > 0
        else ()
    )
    if not paid:
        notes.append(f"status '{status}': not paid, so no tender yet")
    billing = order.get("billing") or {}
    address = order.get("shipping") or {}
    if not _text(address.get("address_1")):
        address = billing
    customer_id = _text(order.get("customer_id"))
    return MappedOrder(
        source=WOOCOMMERCE,
        external_id=external_id,
        updated_at=_when(
            order.get("date_modified_gmt") or order.get("date_created_gmt"),
            "date_modified_gmt",
            naive_is_utc=True,
        ),
        gateway=method,
        paid=bool(tenders),
        notes=tuple(notes),
        order=OrderInput(
            order_number=_text(order.get("number")) or external_id,
            placed_at=_when(order.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True),
            currency=currency,
            lines=tuple(lines),
            customer=CustomerInput(
                email=_text(billing.get("email")),
                name=_name(billing.get("first_name"), billing.get("last_name")),
                phone=_text(billing.get("phone"))[:40],
                external_id="" if customer_id in ("", "0") else customer_id,
            ),
            shipping_address=AddressInput(
                name=_name(address.get("first_name"), address.get("last_name")),
                line1=_text(address.get("address_1")),
                line2=_text(address.get("address_2")),
                city=_text(address.get("city")),
                region=_text(address.get("state")),
                postal_code=_text(address.get("postcode")),
                country=_text(address.get("country")).upper(),
            ),
            # Line totals are always without tax in WooCommerce's API, whatever
            # prices_include_tax says about how the prices were entered.
            tax_included=False,
            shipping_total=Money(shipping_total, currency),
            order_discount_total=Money(order_discount, currency) if order_discount else None,
            tenders=tenders,
            source=WOOCOMMERCE,
        ),
    )


def map_order(source: str, payload: Any) -> MappedOrder:
    if source == SHOPIFY:
        return shopify_order(payload)
    if source == WOOCOMMERCE:
        return woocommerce_order(payload)
    raise NotAnOrder(f"no mapping for '{source}'")
