"""Products, customers, orders, order lines and payment tenders of each merchant.

Money is stored as integer minor units; each row carries the currency its amounts are in.
"""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel
from returndesk.core.money import Money

TENDER_METHODS = ["card", "paypal", "gift_card", "store_credit", "other"]


class Product(MerchantOwnedModel):
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    currency = models.CharField(max_length=3)
    price_amount = models.BigIntegerField()
    returnable = models.BooleanField(default=True)
    final_sale = models.BooleanField(default=False)
    # [{"code": "charger", "name": "Charger", "value": <minor units>}]
    accessories = models.JSONField(default=list, blank=True)
    packing_instructions = models.TextField(blank=True)
    resale_value_amount = models.BigIntegerField(null=True, blank=True)
    refurbish_cost_amount = models.BigIntegerField(null=True, blank=True)
    repair_cost_amount = models.BigIntegerField(null=True, blank=True)
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    hazardous = models.BooleanField(default=False)
    serialized = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_sku_per_merchant")
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.currency)


class Customer(MerchantOwnedModel):
    """A shopper known to a merchant, by normalised e-mail (trimmed, lower case)."""

    email = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email"], name="customer_email_per_merchant"
            )
        ]

    def __str__(self) -> str:
        return self.email


class Order(MerchantOwnedModel):
    order_number = models.CharField(max_length=64)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    # The order's e-mail as placed (normalised); empty for a guest order without one.
    email = models.CharField(max_length=254, blank=True, db_index=True)
    placed_at = models.DateTimeField(db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    ship_name = models.CharField(max_length=200, blank=True)
    ship_line1 = models.CharField(max_length=200, blank=True)
    ship_line2 = models.CharField(max_length=200, blank=True)
    ship_city = models.CharField(max_length=100, blank=True)
    ship_region = models.CharField(max_length=100, blank=True)
    ship_postal_code = models.CharField(max_length=20, blank=True)
    ship_country = models.CharField(max_length=2, blank=True)
    tax_included = models.BooleanField(default=False)
    shipping_total_amount = models.BigIntegerField(default=0)
    order_discount_total_amount = models.BigIntegerField(default=0)
    source = models.CharField(max_length=20, default="api")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order_number"], name="order_number_per_merchant"
            )
        ]

    def __str__(self) -> str:
        return self.order_number


class OrderLine(MerchantOwnedModel):
    # Indexed by the (order, line_id) unique constraint, which leads with the order.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_id = models.CharField(max_length=64)
    position = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    unit_price_amount = models.BigIntegerField()
    discount_amount = models.BigIntegerField(default=0)  # line total
    tax_amount = models.BigIntegerField(default=0)  # line total
    serial_numbers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_id"], name="line_id_per_order"),
        ]


class Tender(MerchantOwnedModel):
    """How an order was paid; refunds go back to these."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="tenders", db_index=False
    )
    position = models.PositiveIntegerField()
    method = models.CharField(max_length=20, choices=[(m, m) for m in TENDER_METHODS])
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    external_reference = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="tender_position_per_order")
        ]
