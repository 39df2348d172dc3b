from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.pagination import paginate
from returndesk.api.render import bulk_answer, json_response, product_out
from returndesk.api.schemas import PROBLEMS, BulkResult, ProductOut, ProductPage
from returndesk.catalog import selectors, services
from returndesk.catalog.schemas import ProductBulkItem, ProductIn
from returndesk.tenants import permissions as perm

router = Router(tags=["products"])


class ProductBulkIn(BaseModel):
    model_config = {"extra": "forbid"}
    products: list[ProductBulkItem] = Field(min_length=1, max_length=1000)


class ListParams(BaseModel):
    limit: int | None = None
    cursor: str | None = None


@router.post("/products/bulk", response={200: BulkResult, **PROBLEMS})
def product_bulk(request: HttpRequest, payload: ProductBulkIn) -> HttpResponse:
    """Up to 1,000 products at once; answers each one's outcome or its errors."""
    with merchant_context(request, perm.CATALOG_MANAGE) as (principal, merchant):
        results = services.products_upsert(
            actor=principal.actor,
            merchant=merchant,
            products=[item.to_input(item.sku) for item in payload.products],
        )
        return json_response(bulk_answer((r.key, r.outcome, r.errors) for r in results))


@router.put("/products/{sku}", response={200: ProductOut, 201: ProductOut, **PROBLEMS})
def product_put(request: HttpRequest, sku: str, payload: ProductIn) -> HttpResponse:
    """Create or update a product by SKU."""
    with merchant_context(request, perm.CATALOG_MANAGE) as (principal, merchant):
        result = services.product_upsert(
            actor=principal.actor, merchant=merchant, data=payload.to_input(sku)
        )
        product = selectors.product_get(merchant=merchant, sku=sku)
        return json_response(product_out(product), 201 if result.outcome == "created" else 200)


@router.get("/products/{sku}", response={200: ProductOut, **PROBLEMS})
def product_get(request: HttpRequest, sku: str) -> HttpResponse:
    with merchant_context(request, perm.CATALOG_VIEW) as (_, merchant):
        return json_response(product_out(selectors.product_get(merchant=merchant, sku=sku)))


@router.get("/products", response={200: ProductPage, **PROBLEMS})
def product_list(request: HttpRequest, params: Query[ListParams]) -> HttpResponse:
    with merchant_context(request, perm.CATALOG_VIEW) as (_, merchant):
        rows, next_cursor = paginate(
            selectors.product_list(merchant=merchant),
            ordering=["sku"],
            cursor=params.cursor,
            limit=params.limit,
        )
        return json_response({"data": [product_out(p) for p in rows], "next_cursor": next_cursor})
