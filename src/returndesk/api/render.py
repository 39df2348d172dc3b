"""Turning domain objects into the API's JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

from returndesk.catalog.models import Order, Product
from returndesk.catalog.services import paid_total
from returndesk.core.errors import FieldError


def file_response(body: bytes, content_type: str, filename: str) -> HttpResponse:
    """A printable file (label, tag) shown inline and never cached: it names a person."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), status=status, content_type="application/json"
    )


def money(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def product_out(p: Product) -> dict[str, Any]:
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "price": money(p.price_amount, p.currency),
        "returnable": p.returnable,
        "final_sale": p.final_sale,
        "accessories": [
            {"code": a["code"], "name": a["name"], "value": money(a["value"], p.currency)}
            for a in p.accessories
        ],
        "packing_instructions": p.packing_instructions,
        "resale_value": money(p.resale_value_amount, p.currency),
        "refurbish_cost": money(p.refurbish_cost_amount, p.currency),
        "repair_cost": money(p.repair_cost_amount, p.currency),
        "weight_grams": p.weight_grams,
        "hazardous": p.hazardous,
        "serialized": p.serialized,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def order_out(o: Order, returns: dict[int, tuple[int, int]]) -> dict[str, Any]:
    """An order; `returns` gives (returned, requested) units per order line id."""
    lines = list(o.lines.all())
    c = o.customer
    return {
        "order_number": o.order_number,
        "customer": None
        if c is None
        else {"email": c.email, "name": c.name, "phone": c.phone, "external_id": c.external_id},
        "placed_at": o.placed_at,
        "delivered_at": o.delivered_at,
        "currency": o.currency,
        "shipping_address": {
            "name": o.ship_name,
            "line1": o.ship_line1,
            "line2": o.ship_line2,
            "city": o.ship_city,
            "region": o.ship_region,
            "postal_code": o.ship_postal_code,
            "country": o.ship_country,
        },
        "tax_included": o.tax_included,
        "shipping_total": money(o.shipping_total_amount, o.currency),
        "order_discount_total": money(o.order_discount_total_amount, o.currency),
        "total": money(
            paid_total(
                (
                    (li.unit_price_amount, li.quantity, li.discount_amount, li.tax_amount)
                    for li in lines
                ),
                tax_included=o.tax_included,
                shipping=o.shipping_total_amount,
                order_discount=o.order_discount_total_amount,
            ),
            o.currency,
        ),
        "lines": [
            {
                "line_id": li.line_id,
                "sku": li.sku,
                "name": li.name,
                "quantity": li.quantity,
                "unit_price": money(li.unit_price_amount, li.currency),
                "discount": money(li.discount_amount, li.currency),
                "tax": money(li.tax_amount, li.currency),
                "serial_numbers": li.serial_numbers,
                "returned_quantity": returns.get(li.pk, (0, 0))[0],
                "requested_quantity": returns.get(li.pk, (0, 0))[1],
            }
            for li in lines
        ],
        "tenders": [
            {
                "method": t.method,
                "amount": money(t.amount, t.currency),
                "external_reference": t.external_reference,
                "provider": t.provider,
            }
            for t in o.tenders.all()
        ],
        "source": o.source,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def bulk_answer(results: Iterable[tuple[str, str, list[FieldError]]]) -> dict[str, Any]:
    items = [
        {
            "key": key,
            "outcome": outcome,
            "errors": [{"field": e.field, "message": e.message} for e in errors],
        }
        for key, outcome, errors in results
    ]
    counts = {
        k: sum(1 for i in items if i["outcome"] == k)
        for k in ("created", "updated", "unchanged", "failed")
    }
    return {"results": items, **counts}
