"""Response shapes of the API (request shapes live with their domain: catalog.schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class MoneyOut(BaseModel):
    amount: int
    currency: str


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldErrorOut] = Field(default_factory=list)


class AccessoryOut(BaseModel):
    code: str
    name: str
    value: MoneyOut


class ProductOut(BaseModel):
    sku: str
    name: str
    category: str
    price: MoneyOut
    returnable: bool
    final_sale: bool
    accessories: list[AccessoryOut]
    packing_instructions: str
    resale_value: MoneyOut | None
    refurbish_cost: MoneyOut | None
    repair_cost: MoneyOut | None
    weight_grams: int | None
    hazardous: bool
    serialized: bool
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    data: list[ProductOut]
    next_cursor: str | None


class BulkItemResult(BaseModel):
    key: str
    outcome: str = Field(description="created, updated, unchanged or failed")
    errors: list[FieldErrorOut] = Field(default_factory=list)


class BulkResult(BaseModel):
    results: list[BulkItemResult]
    created: int
    updated: int
    unchanged: int
    failed: int


class CustomerOut(BaseModel):
    email: str
    name: str
    phone: str
    external_id: str


class AddressOut(BaseModel):
    name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class OrderLineOut(BaseModel):
    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    serial_numbers: list[str]
    returned_quantity: int = Field(description="units returned (received, or historical)")
    requested_quantity: int = Field(description="units held by open returns not yet received")


class TenderOut(BaseModel):
    method: str
    amount: MoneyOut
    external_reference: str
    provider: str


class OrderOut(BaseModel):
    order_number: str
    customer: CustomerOut | None
    placed_at: datetime
    delivered_at: datetime | None
    currency: str
    shipping_address: AddressOut
    tax_included: bool
    shipping_total: MoneyOut
    order_discount_total: MoneyOut
    total: MoneyOut
    lines: list[OrderLineOut]
    tenders: list[TenderOut]
    source: str
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    data: list[OrderOut]
    next_cursor: str | None


# The error answers every operation may give, for the OpenAPI document.
PROBLEMS: dict[int, type] = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    413: ProblemOut,
    415: ProblemOut,
    422: ProblemOut,
}


class PolicyOut(BaseModel):
    version: int
    published_at: datetime
    published_by: str
    document: dict[str, Any]


class EligibilityOut(BaseModel):
    policy_version: int
    decision: dict[str, Any] = Field(
        description="outcome, verdicts per line with their clauses, fees, refund_estimate"
    )


class ReturnLineOut(BaseModel):
    line_id: str | None = Field(description="the order line; null on a receipt-based return")
    sku: str
    name: str
    quantity: int
    reason: str
    comment: str
    photo_upload_ids: list[str]
    value: MoneyOut
    exchange_for: dict[str, Any] | None


class RiskOut(BaseModel):
    score: float
    reasons: list[Any]


class ReturnExceptionOut(BaseModel):
    reason: str
    at: datetime


class ReturnOut(BaseModel):
    ran: str = Field(description="Return Authorization Number, 4-4-4-1 groups")
    status: str
    order_number: str | None
    email: str
    channel: str
    resolution: str
    gift: bool
    proof_of_purchase_upload_id: str | None
    policy_version: int | None
    decision: dict[str, Any]
    risk: RiskOut
    lines: list[ReturnLineOut]
    fees: MoneyOut
    refund_estimate: MoneyOut
    authorized_at: datetime | None
    expires_at: datetime | None
    exception: ReturnExceptionOut | None = Field(
        default=None,
        description="set when staff must look at the return (a carrier's return to sender, "
        "failure or loss); the status does not change",
    )
    created_at: datetime
    updated_at: datetime
    label: dict[str, Any] | None = Field(
        default=None,
        description="the active label or drop-off code (as POST /returns/{ran}/label answers); "
        "in GET /returns/{ran} only",
    )
    receipts: list[dict[str, Any]] | None = Field(
        default=None,
        description="the receipt of the return's package (as GET /receipts/{id} answers); "
        "in GET /returns/{ran} only",
    )
    unidentified_packages: list[dict[str, Any]] | None = Field(
        default=None,
        description="packages received without a match and linked to this return afterwards, "
        "with the notes and photos taken meanwhile (as GET /unidentified-packages/{id} "
        "answers); in GET /returns/{ran} only",
    )
    inspections: list[dict[str, Any]] | None = Field(
        default=None,
        description="each received unit's inspection with the recommended disposition; "
        "in GET /returns/{ran} only",
    )
    dispositions: list[dict[str, Any]] | None = Field(
        default=None,
        description="what was done with each inspected unit, with its LPN; "
        "in GET /returns/{ran} only",
    )


class ReturnPage(BaseModel):
    data: list[ReturnOut]
    next_cursor: str | None

    refunds: list[dict[str, Any]] | None = Field(
        default=None,
        description="the return's refunds (as GET /refunds/{id} answers); in GET /returns/{ran} "
        "only",
    )
    adjustments: list[dict[str, Any]] | None = Field(
        default=None,
        description="money paid that later facts took back, open or resolved; "
        "in GET /returns/{ran} only",
    )
    exchanges: list[dict[str, Any]] | None = Field(
        default=None,
        description="replacements for lines returned with exchange_for, with their status; "
        "in GET /returns/{ran} only",
    )


class EventOut(BaseModel):
    id: str
    type: str
    from_status: str | None
    to_status: str | None
    actor: str
    channel: str | None
    reason: str | None
    payload: dict[str, Any]
    at: datetime


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None
