"""A return's label or drop-off code: issue it, read it, print it (PDF or ZPL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.render import file_response, json_response, money
from returndesk.api.schemas import PROBLEMS, MoneyOut, ProblemOut
from returndesk.core.codes import format_ran
from returndesk.returns import selectors as return_selectors
from returndesk.shipping import selectors, services
from returndesk.shipping.labels import format_dropoff_code, render_zpl
from returndesk.shipping.models import Label
from returndesk.tenants import permissions as perm

router = Router(tags=["labels"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut, 502: ProblemOut}


class LabelAddressOut(BaseModel):
    name: str
    company: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


class LabelFacilityOut(BaseModel):
    code: str
    name: str


class TrackingEventOut(BaseModel):
    status: str = Field(
        description="pre_transit, in_transit, out_for_delivery, "
        "available_for_pickup, delivered, return_to_sender, failure, lost, "
        "cancelled, error or unknown"
    )
    carrier_status: str = Field(description="the status as the carrier sent it")
    occurred_at: datetime
    message: str
    location: str
    source: str = Field(description="webhook or poll")


class TrackingOut(BaseModel):
    status: str | None = Field(
        description="the carrier's current status (never an earlier "
        "stage than one already reached); null before the first event"
    )
    status_at: datetime | None
    first_scan_at: datetime | None
    delivered_at: datetime | None = Field(description="delivered to the facility by the carrier")
    updated_at: datetime | None
    events: list[TrackingEventOut] = Field(description="the full history, oldest first")


class LabelOut(BaseModel):
    id: str
    ran: str
    kind: str = Field(description="label (a carrier label) or dropoff (a box-free drop-off code)")
    status: str = Field(description="active, void_pending or voided")
    carrier: str | None = Field(description="who moves the parcel: USPS, ReturnDesk (prepaid)")
    service: str | None
    tracking_number: str | None
    dropoff_code: str | None = Field(description="shown as a QR code; scanned like a RAN")
    paid_by: str = Field(description="customer (a fee deducted from the refund) or merchant")
    cost: MoneyOut = Field(description="what the carrier charged")
    shopper_fee: MoneyOut = Field(description="the return shipping fee deducted from the refund")
    merchant_cost: MoneyOut = Field(description="what the merchant bears, billed by the provider")
    weight_grams: int
    facility: LabelFacilityOut
    ship_from: LabelAddressOut
    ship_to: LabelAddressOut
    label_pdf_url: str
    label_zpl_url: str | None
    created_at: datetime
    tracking: TrackingOut


def _address(data: dict[str, Any]) -> dict[str, str]:
    keys = LabelAddressOut.model_fields
    return {k: str(data.get(k) or "") for k in keys}


def label_out(label: Label) -> dict[str, Any]:
    ran = format_ran(label.return_request.ran)
    return {
        "id": label.public_id,
        "ran": ran,
        "kind": label.kind,
        "status": label.status,
        "carrier": label.carrier or None,
        "service": label.service or None,
        "tracking_number": label.tracking_number or None,
        "dropoff_code": format_dropoff_code(label.dropoff_code) if label.dropoff_code else None,
        "paid_by": label.paid_by,
        "cost": money(label.cost_amount, label.cost_currency),
        "shopper_fee": money(label.shopper_fee_amount, label.currency),
        "merchant_cost": money(label.merchant_cost_amount, label.cost_currency),
        "weight_grams": label.weight_grams,
        "facility": {"code": label.facility.code, "name": label.facility.name},
        "ship_from": _address(label.ship_from),
        "ship_to": _address(label.ship_to),
        "label_pdf_url": f"/api/v1/returns/{ran}/label.pdf",
        "label_zpl_url": f"/api/v1/returns/{ran}/label.zpl" if label.kind == "label" else None,
        "created_at": label.created_at,
        "tracking": tracking_out(label),
    }


def tracking_out(label: Label) -> dict[str, Any]:
    events = label.tracking_events.all() if label.tracking_updated_at else []
    return {
        "status": label.tracking_status or None,
        "status_at": label.tracking_status_at,
        "first_scan_at": label.first_scan_at,
        "delivered_at": label.delivered_at,
        "updated_at": label.tracking_updated_at,
        "events": [
            {
                "status": e.status,
                "carrier_status": e.carrier_status,
                "occurred_at": e.occurred_at,
                "message": e.message,
                "location": e.location,
                "source": e.source,
            }
            for e in events
        ],
    }


@router.post("/returns/{ran}/label", response={200: LabelOut, 201: LabelOut, **WITH_CONFLICT})
def label_issue(request: HttpRequest, ran: str) -> HttpResponse:
    """Issue the return's label (or drop-off code, where the merchant uses box-free drop-off),
    or answer the one it has. 201 when issued now, 200 for the existing one. Only an
    authorized return may travel (409 `return_not_authorized`)."""
    with merchant_context(request, perm.RETURNS_CREATE) as (principal, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        label, created = services.label_issue(actor=principal.actor, ret=ret)
        return json_response(label_out(label), 201 if created else 200)


@router.get("/returns/{ran}/label", response={200: LabelOut, **PROBLEMS})
def label_get(request: HttpRequest, ran: str) -> HttpResponse:
    """The return's active label; 404 when it has none."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        return json_response(label_out(selectors.label_for_return(ret=ret)))


@router.get(
    "/returns/{ran}/label.pdf",
    response={200: None, **PROBLEMS},
    openapi_extra={
        "responses": {"200": {"description": "the 4x6 label and its packing slip",
                              "content": {"application/pdf": {}}}}
    },
)  # fmt: skip
def label_pdf(request: HttpRequest, ran: str) -> HttpResponse:
    """The label as a 4x6 inch PDF: the label page, then the packing slip."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        label = selectors.label_for_return(ret=ret)
        pdf = services.label_pdf(label=label)
        return file_response(pdf, "application/pdf", f"return-{format_ran(ret.ran)}.pdf")


@router.get(
    "/returns/{ran}/label.zpl",
    response={200: None, **PROBLEMS},
    openapi_extra={
        "responses": {"200": {"description": "the label page as ZPL II (203 dpi, 4x6)",
                              "content": {"text/plain": {}}}}
    },
)  # fmt: skip
def label_zpl(request: HttpRequest, ran: str) -> HttpResponse:
    """The label page as ZPL II for a 203 dpi thermal printer."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        label = selectors.label_for_return(ret=ret)
        zpl = render_zpl(selectors.label_document(label=label))
        return file_response(
            zpl.encode(), "text/plain; charset=utf-8", f"return-{format_ran(ret.ran)}.zpl"
        )
