from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.pagination import paginate
from returndesk.api.products import ListParams
from returndesk.api.render import bulk_answer, json_response, order_out
from returndesk.api.schemas import PROBLEMS, BulkResult, OrderOut, OrderPage, ProblemOut
from returndesk.catalog import selectors, services
from returndesk.catalog.models import Order
from returndesk.catalog.schemas import OrderBulkItem, OrderIn
from returndesk.returns.selectors import order_line_return_quantities
from returndesk.tenants import permissions as perm

router = Router(tags=["orders"])


def return_quantities(orders: list[Order]) -> dict[int, tuple[int, int]]:
    return order_line_return_quantities(order_ids=[o.pk for o in orders])


class OrderBulkIn(BaseModel):
    model_config = {"extra": "forbid"}
    orders: list[OrderBulkItem] = Field(min_length=1, max_length=1000)


@router.post("/orders/bulk", response={200: BulkResult, 409: ProblemOut, **PROBLEMS})
def order_bulk(request: HttpRequest, payload: OrderBulkIn) -> HttpResponse:
    """Up to 1,000 orders at once; answers each one's outcome (created, updated, unchanged) or
    its errors. Valid orders land even when others fail."""
    with merchant_context(request, perm.CATALOG_MANAGE) as (principal, merchant):
        results = services.orders_upsert(
            actor=principal.actor,
            merchant=merchant,
            orders=[item.to_input(item.order_number) for item in payload.orders],
        )
        return json_response(bulk_answer((r.order_number, r.outcome, r.errors) for r in results))


@router.put(
    "/orders/{order_number}", response={200: OrderOut, 201: OrderOut, 409: ProblemOut, **PROBLEMS}
)
def order_put(request: HttpRequest, order_number: str, payload: OrderIn) -> HttpResponse:
    """Create or update an order with its lines and tenders, by order number."""
    with merchant_context(request, perm.CATALOG_MANAGE) as (principal, merchant):
        result = services.order_upsert(
            actor=principal.actor, merchant=merchant, data=payload.to_input(order_number)
        )
        order = selectors.order_get(merchant=merchant, order_number=order_number)
        return json_response(
            order_out(order, return_quantities([order])),
            201 if result.outcome == "created" else 200,
        )


@router.get("/orders/{order_number}", response={200: OrderOut, **PROBLEMS})
def order_get(request: HttpRequest, order_number: str) -> HttpResponse:
    with merchant_context(request, perm.CATALOG_VIEW) as (_, merchant):
        order = selectors.order_get(merchant=merchant, order_number=order_number)
        return json_response(order_out(order, return_quantities([order])))


@router.get("/orders", response={200: OrderPage, **PROBLEMS})
def order_list(request: HttpRequest, params: Query[ListParams]) -> HttpResponse:
    """Orders, newest first."""
    with merchant_context(request, perm.CATALOG_VIEW) as (_, merchant):
        rows, next_cursor = paginate(
            selectors.order_list(merchant=merchant),
            ordering=["-placed_at", "order_number"],
            cursor=params.cursor,
            limit=params.limit,
            parse=[datetime.fromisoformat, str],
        )
        quantities = return_quantities(rows)
        return json_response(
            {"data": [order_out(o, quantities) for o in rows], "next_cursor": next_cursor}
        )
