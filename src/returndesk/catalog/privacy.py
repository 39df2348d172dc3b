"""A customer's personal data in the catalogue: the customer record and their orders' contact and
delivery details (core/privacy.py says how the apps' privacy modules fit together).

Erasure keeps every order whole as a financial record (number, lines, prices, discounts, tax,
tenders, shipping total) and the delivery country and region (the tax jurisdiction); the e-mail
becomes the placeholder, and the name, street, city and postal code are blanked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from returndesk.catalog.models import Customer, Order
from returndesk.core.privacy import Subject, texts_of

ADDRESS_BLANKED = ("ship_name", "ship_line1", "ship_line2", "ship_city", "ship_postal_code")


def orders_of(*, merchant_id: int, email: str) -> QuerySet[Order]:
    """The orders placed with this e-mail, or by the customer known by it."""
    return Order.objects.filter(
        Q(email=email) | Q(customer__email=email), merchant_id=merchant_id
    ).order_by("placed_at", "pk")


def personal_texts(*, merchant_id: int, email: str) -> frozenset[str]:
    """The person's name, phone and address lines, as written in the catalogue."""
    values: list[str] = []
    for customer in Customer.objects.filter(merchant_id=merchant_id, email=email):
        values += [customer.name, customer.phone]
    for order in orders_of(merchant_id=merchant_id, email=email):
        values += [getattr(order, name) for name in ADDRESS_BLANKED]
    return texts_of(values)


def _order_out(order: Order) -> dict[str, Any]:
    return {
        "order_number": order.order_number,
        "email": order.email,
        "placed_at": order.placed_at,
        "delivered_at": order.delivered_at,
        "currency": order.currency,
        "ship_to": {
            "name": order.ship_name,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "city": order.ship_city,
            "region": order.ship_region,
            "postal_code": order.ship_postal_code,
            "country": order.ship_country,
        },
        "shipping_total": order.shipping_total_amount,
        "order_discount_total": order.order_discount_total_amount,
        "tax_included": order.tax_included,
        "source": order.source,
        "lines": [
            {
                "line_id": line.line_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price_amount,
                "discount": line.discount_amount,
                "tax": line.tax_amount,
                "serial_numbers": line.serial_numbers,
            }
            for line in order.lines.all()
        ],
        "payments": [
            {"method": t.method, "amount": t.amount, "currency": t.currency, "provider": t.provider}
            for t in order.tenders.all()
        ],
    }


def export(subject: Subject) -> dict[str, Any]:
    customer = Customer.objects.filter(merchant_id=subject.merchant_id, email=subject.email).first()
    orders = Order.objects.filter(pk__in=subject.order_ids).order_by("placed_at", "pk")
    return {
        "customer": None
        if customer is None
        else {
            "email": customer.email,
            "name": customer.name,
            "phone": customer.phone,
            "external_id": customer.external_id,
            "created_at": customer.created_at,
        },
        "orders": [_order_out(o) for o in orders.prefetch_related("lines", "tenders")],
    }


def erase(subject: Subject) -> dict[str, int]:
    customers = 0
    for customer in Customer.objects.filter(merchant_id=subject.merchant_id, email=subject.email):
        placeholder = subject.placeholder
        taken = Customer.objects.filter(merchant_id=subject.merchant_id, email=placeholder)
        if taken.exists():  # erased before, and known again since: keep the rows apart
            placeholder = placeholder.replace("@", f".{customer.pk}@")
        customer.email = placeholder
        customer.name = customer.phone = customer.external_id = ""
        customer.save(update_fields=["email", "name", "phone", "external_id", "updated_at"])
        customers += 1
    orders = Order.objects.filter(pk__in=subject.order_ids)
    orders.filter(email=subject.email).update(email=subject.placeholder)
    blanked = orders.update(**dict.fromkeys(ADDRESS_BLANKED, ""), updated_at=timezone.now())
    return {"customers": customers, "orders": blanked}
