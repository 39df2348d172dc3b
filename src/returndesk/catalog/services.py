"""Writes for the catalogue: products and orders, one at a time or in batches.

Every channel (API, bulk API, file import, shop webhooks) goes through `products_upsert` and
`orders_upsert`, so the rules are the same everywhere. A batch validates every order first,
writes the valid ones in one transaction, and reports the others with their errors; an order is
never half-written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.deletion import ProtectedError

from returndesk.catalog.inputs import (
    OrderInput,
    OrderLineInput,
    ProductInput,
)
from returndesk.catalog.models import TENDER_METHODS, Customer, Order, OrderLine, Product, Tender
from returndesk.core.actors import Actor
from returndesk.core.errors import Conflict, FieldError, ValidationFailed
from returndesk.core.money import Money
from returndesk.tenants.models import Merchant

CREATED, UPDATED, UNCHANGED, FAILED = "created", "updated", "unchanged", "failed"
MAX_KEY_LENGTH = 64


def normalize_email(raw: str) -> str:
    """Trimmed and lower-cased: the form in which e-mails are stored and compared."""
    return raw.strip().lower()


_BAD_KEY_CHARACTERS = re.compile(r"[/\x00-\x1f]")


def _key_problem(value: str) -> str | None:
    if not value or len(value) > MAX_KEY_LENGTH:
        return f"must be 1 to {MAX_KEY_LENGTH} characters"
    if _BAD_KEY_CHARACTERS.search(value) or value != value.strip():
        return "must not contain '/', control characters or edge spaces"
    return None


def _money_problems(value: Money | None, currency: str) -> list[str]:
    if value is None:
        return []
    problems = []
    if value.currency != currency:
        problems.append(
            f"currency {value.currency} differs from the merchant's currency {currency}"
        )
    if value.amount < 0:
        problems.append("must not be negative")
    return problems


def _check_key(value: str, field_name: str, errors: list[FieldError]) -> None:
    if problem := _key_problem(value):
        errors.append(FieldError(field_name, problem))


def _check_money(
    value: Money | None, field_name: str, currency: str, errors: list[FieldError]
) -> None:
    errors.extend(FieldError(field_name, problem) for problem in _money_problems(value, currency))


# ---------------------------------------------------------------------------------- products


@dataclass
class UpsertResult:
    key: str
    outcome: str
    errors: list[FieldError] = field(default_factory=list)


def product_validate(merchant: Merchant, data: ProductInput, prefix: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    _check_key(data.sku, f"{prefix}sku", errors)
    if not data.name.strip():
        errors.append(FieldError(f"{prefix}name", "is required"))
    for name in ("price", "resale_value", "refurbish_cost", "repair_cost"):
        _check_money(getattr(data, name), f"{prefix}{name}", merchant.currency, errors)
    codes: set[str] = set()
    for i, accessory in enumerate(data.accessories):
        if not accessory.code or accessory.code in codes:
            errors.append(FieldError(f"{prefix}accessories[{i}].code", "must be unique and set"))
        codes.add(accessory.code)
        _check_money(accessory.value, f"{prefix}accessories[{i}].value", merchant.currency, errors)
    if data.weight_grams is not None and data.weight_grams < 0:
        errors.append(FieldError(f"{prefix}weight_grams", "must not be negative"))
    return errors


def _product_fields(data: ProductInput) -> dict[str, Any]:
    def amount(m: Money | None) -> int | None:
        return None if m is None else m.amount

    return {
        "name": data.name.strip(),
        "category": data.category.strip(),
        "currency": data.price.currency,
        "price_amount": data.price.amount,
        "returnable": data.returnable,
        "final_sale": data.final_sale,
        "accessories": [
            {"code": a.code, "name": a.name, "value": a.value.amount} for a in data.accessories
        ],
        "packing_instructions": data.packing_instructions,
        "resale_value_amount": amount(data.resale_value),
        "refurbish_cost_amount": amount(data.refurbish_cost),
        "repair_cost_amount": amount(data.repair_cost),
        "weight_grams": data.weight_grams,
        "hazardous": data.hazardous,
        "serialized": data.serialized,
    }


def products_upsert(
    *, actor: Actor, merchant: Merchant, products: Sequence[ProductInput]
) -> list[UpsertResult]:
    """Create or update products by SKU; invalid ones are reported and not written."""
    results: list[UpsertResult] = []
    seen: set[str] = set()
    valid: list[ProductInput] = []
    for i, data in enumerate(products):
        prefix = f"products[{i}]." if len(products) > 1 else ""
        errors = product_validate(merchant, data, prefix)
        if data.sku in seen:
            errors.append(FieldError(f"{prefix}sku", "appears twice in this request"))
        seen.add(data.sku)
        results.append(UpsertResult(data.sku, FAILED if errors else "", errors))
        if not errors:
            valid.append(data)
    with transaction.atomic():
        existing = {
            p.sku: p
            for p in Product.objects.filter(
                merchant=merchant, sku__in=[p.sku for p in valid]
            ).select_for_update()
        }
        outcome: dict[str, str] = {}
        to_create: list[Product] = []
        to_update: list[Product] = []
        update_fields: set[str] = set()
        for data in valid:
            values = _product_fields(data)
            current = existing.get(data.sku)
            if current is None:
                to_create.append(Product(merchant=merchant, sku=data.sku, **values))
                outcome[data.sku] = CREATED
                continue
            changed = [k for k, v in values.items() if getattr(current, k) != v]
            if changed:
                for k in changed:
                    setattr(current, k, values[k])
                update_fields.update(changed)
                to_update.append(current)
                outcome[data.sku] = UPDATED
            else:
                outcome[data.sku] = UNCHANGED
        Product.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Product.objects.bulk_update(
                to_update, [*sorted(update_fields), "updated_at"], batch_size=500
            )
    for result in results:
        if not result.errors:
            result.outcome = outcome[result.key]
    return results


# ------------------------------------------------------------------------------------ orders


def paid_total(
    lines: Iterable[tuple[int, int, int, int]],
    *,
    tax_included: bool,
    shipping: int,
    order_discount: int,
) -> int:
    """What the shopper paid, in minor units, from (unit price, quantity, discount, tax) per
    line: lines less discounts (plus tax when prices exclude it), plus shipping, less the
    order-level discount."""
    total = 0
    for unit_price, quantity, discount, tax in lines:
        total += unit_price * quantity - discount + (0 if tax_included else tax)
    return total + shipping - order_discount


def order_total(data: OrderInput) -> int:
    return paid_total(
        (
            (
                line.unit_price.amount,
                line.quantity,
                line.discount.amount if line.discount else 0,
                line.tax.amount if line.tax else 0,
            )
            for line in data.lines
        ),
        tax_included=data.tax_included,
        shipping=data.shipping_total.amount if data.shipping_total else 0,
        order_discount=data.order_discount_total.amount if data.order_discount_total else 0,
    )


def order_validate(
    merchant: Merchant,
    data: OrderInput,
    *,
    known_skus: set[str],
    allow_new_products: bool,
    prefix: str = "",
) -> list[FieldError]:
    """Every rule an order must meet, with the field each failure is about."""
    errors: list[FieldError] = []
    _check_key(data.order_number, f"{prefix}order_number", errors)
    if data.currency != merchant.currency:
        errors.append(
            FieldError(
                f"{prefix}currency",
                f"the order is in {data.currency} but merchant '{merchant.slug}' works in "
                f"{merchant.currency}",
            )
        )
    currency = merchant.currency
    if data.placed_at.tzinfo is None:
        errors.append(FieldError(f"{prefix}placed_at", "needs a time zone offset"))
    if data.delivered_at is not None:
        if data.delivered_at.tzinfo is None:
            errors.append(FieldError(f"{prefix}delivered_at", "needs a time zone offset"))
        elif data.placed_at.tzinfo is not None and data.delivered_at < data.placed_at:
            errors.append(FieldError(f"{prefix}delivered_at", "is before placed_at"))
    if data.customer.email:
        try:
            validate_email(normalize_email(data.customer.email))
        except DjangoValidationError:
            errors.append(FieldError(f"{prefix}customer.email", "is not a valid e-mail address"))
    country = data.shipping_address.country
    if country and (len(country) != 2 or not country.isalpha() or not country.isupper()):
        errors.append(
            FieldError(f"{prefix}shipping_address.country", "must be an ISO 3166-1 alpha-2 code")
        )
    _check_money(data.shipping_total, f"{prefix}shipping_total", currency, errors)
    _check_money(data.order_discount_total, f"{prefix}order_discount_total", currency, errors)
    if not data.lines:
        errors.append(FieldError(f"{prefix}lines", "an order needs at least one line"))
    line_ids: set[str] = set()
    for i, line in enumerate(data.lines):
        errors.extend(
            _line_errors(
                line,
                f"{prefix}lines[{i}].",
                currency,
                known_skus=known_skus,
                allow_new_products=allow_new_products,
            )
        )
        if line.line_id in line_ids:
            errors.append(FieldError(f"{prefix}lines[{i}].line_id", "appears twice in the order"))
        line_ids.add(line.line_id)
    for i, tender in enumerate(data.tenders):
        if tender.method not in TENDER_METHODS:
            errors.append(
                FieldError(
                    f"{prefix}tenders[{i}].method", f"must be one of {', '.join(TENDER_METHODS)}"
                )
            )
        _check_money(tender.amount, f"{prefix}tenders[{i}].amount", currency, errors)
        if tender.amount.amount == 0:
            errors.append(FieldError(f"{prefix}tenders[{i}].amount", "must be more than zero"))
    if not errors and data.tenders:
        paid = sum(t.amount.amount for t in data.tenders)
        total = order_total(data)
        if paid != total:
            errors.append(
                FieldError(
                    f"{prefix}tenders",
                    f"the tenders add up to {Money(paid, currency)} but the order total is "
                    f"{Money(total, currency)}",
                )
            )
    return errors


def _line_errors(
    line: OrderLineInput,
    prefix: str,
    currency: str,
    *,
    known_skus: set[str],
    allow_new_products: bool,
) -> list[FieldError]:
    # Runs once per line of every import: field names are only built when something is wrong.
    problems: list[tuple[str, str]] = []
    if problem := _key_problem(line.line_id):
        problems.append(("line_id", problem))
    if not allow_new_products and line.sku not in known_skus:
        problems.append(("sku", f"unknown SKU '{line.sku}': create it with PUT /products first"))
    if line.quantity <= 0:
        problems.append(("quantity", "must be at least 1"))
    for name, value in (
        ("unit_price", line.unit_price),
        ("discount", line.discount),
        ("tax", line.tax),
    ):
        if value is not None and (value.currency != currency or value.amount < 0):
            problems.extend((name, problem) for problem in _money_problems(value, currency))
    if (
        line.discount
        and line.quantity > 0
        and line.discount.amount > line.unit_price.amount * line.quantity
    ):
        problems.append(("discount", "is more than the line's price"))
    if len(line.serial_numbers) > max(line.quantity, 0):
        problems.append(("serial_numbers", "more serial numbers than units"))
    return [FieldError(f"{prefix}{name}", message) for name, message in problems]


@dataclass
class OrderUpsertResult:
    order_number: str
    outcome: str
    errors: list[FieldError] = field(default_factory=list)
    order: Order | None = None


def _order_fields(data: OrderInput, customer_id: int | None) -> dict[str, Any]:
    address = data.shipping_address
    return {
        "customer_id": customer_id,
        "email": normalize_email(data.customer.email),
        "placed_at": data.placed_at,
        "delivered_at": data.delivered_at,
        "currency": data.currency,
        "ship_name": address.name,
        "ship_line1": address.line1,
        "ship_line2": address.line2,
        "ship_city": address.city,
        "ship_region": address.region,
        "ship_postal_code": address.postal_code,
        "ship_country": address.country,
        "tax_included": data.tax_included,
        "shipping_total_amount": data.shipping_total.amount if data.shipping_total else 0,
        "order_discount_total_amount": (
            data.order_discount_total.amount if data.order_discount_total else 0
        ),
        "source": data.source,
    }


def _line_fields(line: OrderLineInput, position: int, product: Product) -> dict[str, Any]:
    return {
        "position": position,
        "product_id": product.pk,
        "sku": line.sku,
        "name": product.name,
        "quantity": line.quantity,
        "currency": line.unit_price.currency,
        "unit_price_amount": line.unit_price.amount,
        "discount_amount": line.discount.amount if line.discount else 0,
        "tax_amount": line.tax.amount if line.tax else 0,
        "serial_numbers": list(line.serial_numbers),
    }


def _tender_fields(data: OrderInput) -> list[dict[str, Any]]:
    return [
        {
            "position": i,
            "method": t.method,
            "currency": t.amount.currency,
            "amount": t.amount.amount,
            "external_reference": t.external_reference,
            "provider": t.provider,
        }
        for i, t in enumerate(data.tenders, start=1)
    ]


def _customers_for(merchant: Merchant, orders: Sequence[OrderInput]) -> dict[str, Customer]:
    """Find or create (and refresh) the customers the orders name, by normalised e-mail."""
    wanted: dict[str, Any] = {}
    for data in orders:
        email = normalize_email(data.customer.email)
        if email:
            wanted[email] = data.customer
    if not wanted:
        return {}
    customers = {c.email: c for c in Customer.objects.filter(merchant=merchant, email__in=wanted)}
    new = [
        Customer(
            merchant=merchant, email=email, name=c.name, phone=c.phone, external_id=c.external_id
        )
        for email, c in wanted.items()
        if email not in customers
    ]
    Customer.objects.bulk_create(new, batch_size=500)
    changed = []
    for email, given in wanted.items():
        current = customers.get(email)
        if current is None:
            continue
        dirty = False
        for attr in ("name", "phone", "external_id"):
            value = getattr(given, attr)
            if value and getattr(current, attr) != value:
                setattr(current, attr, value)
                dirty = True
        if dirty:
            changed.append(current)
    if changed:
        Customer.objects.bulk_update(changed, ["name", "phone", "external_id", "updated_at"])
    customers.update({c.email: c for c in new})
    return customers


def _products_for(
    merchant: Merchant, orders: Sequence[OrderInput], allow_new_products: bool
) -> dict[str, Product]:
    skus = {line.sku for data in orders for line in data.lines}
    products = {p.sku: p for p in Product.objects.filter(merchant=merchant, sku__in=skus)}
    if allow_new_products:
        new: dict[str, Product] = {}
        for data in orders:
            for line in data.lines:
                if line.sku not in products and line.sku not in new:
                    new[line.sku] = Product(
                        merchant=merchant,
                        sku=line.sku,
                        name=(line.product_name or line.sku).strip()[:300],
                        currency=line.unit_price.currency,
                        price_amount=line.unit_price.amount,
                    )
        Product.objects.bulk_create(list(new.values()), batch_size=500)
        products.update(new)
    return products


def orders_upsert(
    *,
    actor: Actor,
    merchant: Merchant,
    orders: Sequence[OrderInput],
    allow_new_products: bool = False,
) -> list[OrderUpsertResult]:
    """Create or update orders by order number, with their lines and tenders.

    Answers one result per order, in the order given: created, updated, unchanged (nothing
    differed, nothing was written), or failed with its field errors.
    """
    results = [OrderUpsertResult(data.order_number, "") for data in orders]
    known_skus = set(
        Product.objects.filter(
            merchant=merchant, sku__in={line.sku for d in orders for line in d.lines}
        ).values_list("sku", flat=True)
    )
    seen: set[str] = set()
    valid: list[tuple[int, OrderInput]] = []
    for i, data in enumerate(orders):
        prefix = f"orders[{i}]." if len(orders) > 1 else ""
        errors = order_validate(
            merchant,
            data,
            known_skus=known_skus,
            allow_new_products=allow_new_products,
            prefix=prefix,
        )
        if data.order_number in seen:
            errors.append(FieldError(f"{prefix}order_number", "appears twice in this batch"))
        seen.add(data.order_number)
        if errors:
            results[i].outcome = FAILED
            results[i].errors = errors
        else:
            valid.append((i, data))
    if not valid:
        return results
    try:
        with transaction.atomic():
            _orders_write(merchant, valid, results, allow_new_products)
    except ProtectedError:
        raise Conflict(
            "A line that a return refers to cannot be removed from its order.",
            code="line_in_use",
        ) from None
    return results


def _orders_write(
    merchant: Merchant,
    valid: list[tuple[int, OrderInput]],
    results: list[OrderUpsertResult],
    allow_new_products: bool,
) -> None:
    inputs = [data for _, data in valid]
    customers = _customers_for(merchant, inputs)
    products = _products_for(merchant, inputs, allow_new_products)
    numbers = [data.order_number for data in inputs]
    existing = {
        o.order_number: o
        for o in Order.objects.filter(merchant=merchant, order_number__in=numbers)
        .select_for_update()
        .order_by("pk")
    }
    lines_by_order: dict[int, dict[str, OrderLine]] = defaultdict(dict)
    tenders_by_order: dict[int, list[Tender]] = defaultdict(list)
    if existing:
        ids = [o.pk for o in existing.values()]
        for line in OrderLine.objects.filter(merchant=merchant, order_id__in=ids):
            lines_by_order[line.order_id][line.line_id] = line
        for tender in Tender.objects.filter(merchant=merchant, order_id__in=ids):
            tenders_by_order[tender.order_id].append(tender)

    new_orders: list[tuple[int, OrderInput, Order]] = []
    changed_orders: list[Order] = []
    changed_order_fields: set[str] = set()
    new_lines: list[OrderLine] = []
    changed_lines: list[OrderLine] = []
    changed_line_fields: set[str] = set()
    removed_line_ids: list[int] = []
    new_tenders: list[Tender] = []
    removed_tender_orders: list[int] = []

    for index, data in valid:
        email = normalize_email(data.customer.email)
        customer_id = customers[email].pk if email else None
        values = _order_fields(data, customer_id)
        order = existing.get(data.order_number)
        if order is None:
            order = Order(merchant=merchant, order_number=data.order_number, **values)
            new_orders.append((index, data, order))
            results[index].outcome = CREATED
            results[index].order = order
            continue
        dirty = False
        diff = [k for k, v in values.items() if getattr(order, k) != v]
        if diff:
            for k in diff:
                setattr(order, k, values[k])
            changed_order_fields.update(diff)
            changed_orders.append(order)
            dirty = True
        current_lines = lines_by_order[order.pk]
        for position, given in enumerate(data.lines, start=1):
            line_values = _line_fields(given, position, products[given.sku])
            current = current_lines.pop(given.line_id, None)
            if current is None:
                new_lines.append(
                    OrderLine(merchant=merchant, order=order, line_id=given.line_id, **line_values)
                )
                dirty = True
                continue
            line_diff = [k for k, v in line_values.items() if getattr(current, k) != v]
            if line_diff:
                for k in line_diff:
                    setattr(current, k, line_values[k])
                changed_line_fields.update(line_diff)
                changed_lines.append(current)
                dirty = True
        if current_lines:
            removed_line_ids.extend(line.pk for line in current_lines.values())
            dirty = True
        wanted_tenders = _tender_fields(data)
        have_tenders = [
            {k: getattr(t, k) for k in wanted_tenders[0]} if wanted_tenders else {}
            for t in sorted(tenders_by_order[order.pk], key=lambda t: t.position)
        ]
        if wanted_tenders != have_tenders and (wanted_tenders or tenders_by_order[order.pk]):
            removed_tender_orders.append(order.pk)
            new_tenders.extend(
                Tender(merchant=merchant, order=order, **values) for values in wanted_tenders
            )
            dirty = True
        results[index].outcome = UPDATED if dirty else UNCHANGED
        results[index].order = order
        if dirty and order not in changed_orders:
            changed_orders.append(order)  # touch updated_at

    Order.objects.bulk_create([order for _, _, order in new_orders], batch_size=500)
    for _, data, order in new_orders:
        for position, given in enumerate(data.lines, start=1):
            new_lines.append(
                OrderLine(
                    merchant=merchant,
                    order=order,
                    line_id=given.line_id,
                    **_line_fields(given, position, products[given.sku]),
                )
            )
        new_tenders.extend(
            Tender(merchant=merchant, order=order, **values) for values in _tender_fields(data)
        )
    if changed_orders:
        Order.objects.bulk_update(
            changed_orders, [*sorted(changed_order_fields), "updated_at"], batch_size=500
        )
    if removed_line_ids:
        OrderLine.objects.filter(merchant=merchant, pk__in=removed_line_ids).delete()
    if changed_lines:
        OrderLine.objects.bulk_update(
            changed_lines, [*sorted(changed_line_fields), "updated_at"], batch_size=500
        )
    OrderLine.objects.bulk_create(new_lines, batch_size=1000)
    if removed_tender_orders:
        Tender.objects.filter(merchant=merchant, order_id__in=removed_tender_orders).delete()
    Tender.objects.bulk_create(new_tenders, batch_size=1000)


def order_upsert(*, actor: Actor, merchant: Merchant, data: OrderInput) -> OrderUpsertResult:
    """One order: raises ValidationFailed with every field error instead of reporting it."""
    result = orders_upsert(actor=actor, merchant=merchant, orders=[data])[0]
    if result.errors:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in result.errors), errors=result.errors
        )
    return result


def product_upsert(*, actor: Actor, merchant: Merchant, data: ProductInput) -> UpsertResult:
    result = products_upsert(actor=actor, merchant=merchant, products=[data])[0]
    if result.errors:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in result.errors), errors=result.errors
        )
    return result
