"""Reads for the catalogue."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from returndesk.catalog.models import Order, OrderLine, Product, Tender
from returndesk.core.errors import NotFound
from returndesk.tenants.models import Merchant


def product_get(*, merchant: Merchant, sku: str) -> Product:
    product = Product.objects.filter(merchant=merchant, sku=sku).first()
    if product is None:
        raise NotFound(f"No product with SKU '{sku}'.")
    return product


def product_list(*, merchant: Merchant) -> QuerySet[Product]:
    return Product.objects.filter(merchant=merchant).order_by("sku")


def product_search(*, merchant: Merchant, query: str, limit: int = 20) -> list[Product]:
    """Products whose SKU or name contains the words typed, by name; an exact SKU first."""
    query = query.strip()
    if not query:
        return []
    products = Product.objects.filter(merchant=merchant)
    exact = list(products.filter(sku__iexact=query)[:1])
    alike = (
        products.filter(Q(sku__icontains=query) | Q(name__icontains=query))
        .exclude(pk__in=[p.pk for p in exact])
        .order_by("name", "sku")
    )
    return [*exact, *alike[: limit - len(exact)]]


def _with_details(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.select_related("customer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
        Prefetch("tenders", queryset=Tender.objects.order_by("position")),
    )


def order_get(*, merchant: Merchant, order_number: str) -> Order:
    order = _with_details(
        Order.objects.filter(merchant=merchant, order_number=order_number)
    ).first()
    if order is None:
        raise NotFound(f"No order with number '{order_number}'.")
    return order


def order_list(*, merchant: Merchant) -> QuerySet[Order]:
    return _with_details(Order.objects.filter(merchant=merchant)).order_by(
        "-placed_at", "order_number"
    )
