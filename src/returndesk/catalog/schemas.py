"""The wire shapes of products and orders (API.md), shared by the HTTP API and the JSON Lines
import format. Pydantic models that forbid unknown fields; `to_input()` gives the dataclasses the
services take."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from returndesk.catalog.inputs import (
    AccessoryInput,
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    ProductInput,
    TenderInput,
)
from returndesk.core.money import Money, MoneyError, validate_currency


def _currency(value: str) -> str:
    try:
        return validate_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"]), AfterValidator(_currency)]


class WriteModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(WriteModel):
    amount: StrictInt = Field(description="Integer amount in the currency's minor units")
    currency: Currency

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


class AccessoryIn(WriteModel):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    value: MoneyIn


class ProductIn(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=300)]
    category: Annotated[str, Field(max_length=100)] = ""
    price: MoneyIn
    returnable: StrictBool = True
    final_sale: StrictBool = False
    accessories: list[AccessoryIn] = Field(default_factory=list, max_length=100)
    packing_instructions: Annotated[str, Field(max_length=5000)] = ""
    resale_value: MoneyIn | None = None
    refurbish_cost: MoneyIn | None = None
    repair_cost: MoneyIn | None = None
    weight_grams: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = None
    hazardous: StrictBool = False
    serialized: StrictBool = False

    def to_input(self, sku: str) -> ProductInput:
        def money(m: MoneyIn | None) -> Money | None:
            return None if m is None else m.to_money()

        return ProductInput(
            sku=sku,
            name=self.name,
            category=self.category,
            price=self.price.to_money(),
            returnable=self.returnable,
            final_sale=self.final_sale,
            accessories=tuple(
                AccessoryInput(a.code, a.name, a.value.to_money()) for a in self.accessories
            ),
            packing_instructions=self.packing_instructions,
            resale_value=money(self.resale_value),
            refurbish_cost=money(self.refurbish_cost),
            repair_cost=money(self.repair_cost),
            weight_grams=self.weight_grams,
            hazardous=self.hazardous,
            serialized=self.serialized,
        )


class ProductBulkItem(ProductIn):
    sku: Annotated[str, Field(min_length=1, max_length=64)]


class CustomerIn(WriteModel):
    email: Annotated[str, Field(max_length=254)] = ""
    name: Annotated[str, Field(max_length=200)] = ""
    phone: Annotated[str, Field(max_length=40)] = ""
    external_id: Annotated[str, Field(max_length=100)] = ""


class AddressIn(WriteModel):
    name: Annotated[str, Field(max_length=200)] = ""
    line1: Annotated[str, Field(max_length=200)] = ""
    line2: Annotated[str, Field(max_length=200)] = ""
    city: Annotated[str, Field(max_length=100)] = ""
    region: Annotated[str, Field(max_length=100)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    country: Annotated[str, Field(max_length=2)] = ""


class OrderLineIn(WriteModel):
    line_id: Annotated[str, Field(min_length=1, max_length=64)]
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: StrictInt = Field(description="Units bought; at least 1")
    unit_price: MoneyIn
    discount: MoneyIn | None = Field(default=None, description="Line total discount")
    tax: MoneyIn | None = Field(default=None, description="Line total tax")
    serial_numbers: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )


class TenderIn(WriteModel):
    method: Literal["card", "paypal", "gift_card", "store_credit", "other"]
    amount: MoneyIn
    external_reference: Annotated[str, Field(max_length=200)] = ""
    provider: Annotated[str, Field(max_length=50)] = ""


class OrderIn(WriteModel):
    customer: CustomerIn = Field(default_factory=CustomerIn)
    placed_at: AwareDatetime
    delivered_at: AwareDatetime | None = None
    currency: Currency
    shipping_address: AddressIn = Field(default_factory=AddressIn)
    tax_included: StrictBool = False
    shipping_total: MoneyIn | None = None
    order_discount_total: MoneyIn | None = None
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)
    tenders: list[TenderIn] = Field(default_factory=list, max_length=20)

    def to_input(self, order_number: str, source: str = "api") -> OrderInput:
        def money(m: MoneyIn | None) -> Money | None:
            return None if m is None else m.to_money()

        return OrderInput(
            order_number=order_number,
            placed_at=self.placed_at,
            delivered_at=self.delivered_at,
            currency=self.currency,
            customer=CustomerInput(**self.customer.model_dump()),
            shipping_address=AddressInput(**self.shipping_address.model_dump()),
            tax_included=self.tax_included,
            shipping_total=money(self.shipping_total),
            order_discount_total=money(self.order_discount_total),
            lines=tuple(
                OrderLineInput(
                    line_id=line.line_id,
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price.to_money(),
                    discount=money(line.discount),
                    tax=money(line.tax),
                    serial_numbers=tuple(line.serial_numbers),
                )
                for line in self.lines
            ),
            tenders=tuple(
                TenderInput(t.method, t.amount.to_money(), t.external_reference, t.provider)
                for t in self.tenders
            ),
            source=source,
        )


class OrderBulkItem(OrderIn):
    order_number: Annotated[str, Field(min_length=1, max_length=64)]
