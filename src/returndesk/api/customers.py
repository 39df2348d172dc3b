"""A customer's personal data (API.md): everything the merchant holds about them, and its
erasure on their request (docs/security.md, "Customer data"). Beside the store credit paths of
api/credit.py, which share the /customers/{email} prefix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.privacy.services import customer_erase, customer_export
from returndesk.tenants import permissions as perm

router = Router(tags=["customers"])

Rows = list[dict[str, Any]]


class CustomerExportOut(BaseModel):
    merchant: str
    email: str
    exported_at: datetime
    customer: dict[str, Any] | None = Field(description="null: no customer record")
    orders: Rows
    returns: Rows = Field(description="with their lines and timeline")
    return_photos: Rows
    labels: Rows
    carrier_webhooks: Rows
    receipts: Rows
    inspections: Rows
    unidentified_packages: Rows
    warehouse_photos: Rows
    settlements: Rows
    refunds: Rows
    adjustments: Rows
    exchanges: Rows
    payment_webhooks: Rows
    store_credit: Rows
    shop_webhooks: Rows = Field(description="raw order webhooks from the shop about them")
    blocklist: Rows
    emails: Rows = Field(description="the e-mails sent to them")
    events: Rows = Field(description="events about them sent to the merchant's webhooks")
    audit_log: Rows


class CustomerErasureOut(BaseModel):
    placeholder: str = Field(description="what now stands for the e-mail in every record kept")
    erased_at: datetime
    changed: dict[str, int] = Field(description="rows changed, per kind; all 0 when repeated")


@router.get("/customers/{email}/export", response={200: CustomerExportOut, **PROBLEMS})
def customer_export_get(request: HttpRequest, email: str) -> HttpResponse:
    """Everything the merchant holds about the person with this e-mail: the customer record,
    orders, returns with their timeline, labels, receipts and inspections, refunds, store
    credit, e-mails sent, raw shop webhooks. Empty sections for an e-mail the merchant does not
    know. Never cached."""
    with merchant_context(request, perm.CUSTOMERS_PRIVACY) as (principal, merchant):
        export = customer_export(merchant=merchant, email=email, actor=principal.actor)
    response = json_response(export)
    response["Cache-Control"] = "private, no-store"
    return response


@router.post("/customers/{email}/erase", response={200: CustomerErasureOut, **PROBLEMS})
def customer_erase_post(request: HttpRequest, email: str) -> HttpResponse:
    """Erase (anonymize) the person's personal data: the e-mail becomes a placeholder, name,
    phone and addresses are blanked, their comments and staff notes about their packages are
    erased, photos deleted, raw webhooks about them redacted. Orders, refunds, settlements,
    store credit ledgers and their amounts stay whole. Repeating it is harmless."""
    with merchant_context(request, perm.CUSTOMERS_PRIVACY) as (principal, merchant):
        done = customer_erase(merchant=merchant, email=email, actor=principal.actor)
    return json_response(done)
