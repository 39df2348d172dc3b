"""What a caller may submit for products and orders: plain dataclasses, shared by the API,
the importers and the shop integrations, so every channel is validated by the same service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from returndesk.core.money import Money


@dataclass(frozen=True)
class AccessoryInput:
    code: str
    name: str
    value: Money


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    price: Money
    category: str = ""
    returnable: bool = True
    final_sale: bool = False
    accessories: tuple[AccessoryInput, ...] = ()
    packing_instructions: str = ""
    resale_value: Money | None = None
    refurbish_cost: Money | None = None
    repair_cost: Money | None = None
    weight_grams: int | None = None
    hazardous: bool = False
    serialized: bool = False


@dataclass(frozen=True)
class CustomerInput:
    email: str = ""
    name: str = ""
    phone: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class AddressInput:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class OrderLineInput:
    line_id: str
    sku: str
    quantity: int
    unit_price: Money
    discount: Money | None = None
    tax: Money | None = None
    serial_numbers: tuple[str, ...] = ()
    # Used only where the caller may create products it names (importers that say so).
    product_name: str = ""


@dataclass(frozen=True)
class TenderInput:
    method: str
    amount: Money
    external_reference: str = ""
    provider: str = ""


@dataclass(frozen=True)
class OrderInput:
    order_number: str
    placed_at: datetime
    currency: str
    lines: tuple[OrderLineInput, ...]
    customer: CustomerInput = field(default_factory=CustomerInput)
    delivered_at: datetime | None = None
    shipping_address: AddressInput = field(default_factory=AddressInput)
    tax_included: bool = False
    shipping_total: Money | None = None
    order_discount_total: Money | None = None
    tenders: tuple[TenderInput, ...] = ()
    source: str = "api"
