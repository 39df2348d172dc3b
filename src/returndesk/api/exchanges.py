"""Exchanges (API.md, `exchange_for`): a return's exchanges, staff recording a difference paid,
the merchant reporting the replacement's order, and cancellation. An illegal move answers 409
`invalid_transition`; another merchant's exchange answers 404 `exchange_not_found`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field

from returndesk.api.auth import merchant_context
from returndesk.api.refunds import WITH_CONFLICT, ExchangeOut, exchange_out
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.codes import format_ran
from returndesk.refunds import exchanges, selectors
from returndesk.refunds.execution import refunds_execute_now
from returndesk.refunds.models import Exchange
from returndesk.returns import selectors as return_selectors
from returndesk.tenants import permissions as perm

router = Router(tags=["exchanges"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExchangeEventOut(BaseModel):
    status: str
    at: str
    actor: str
    note: str


class ExchangeDetailOut(ExchangeOut):
    ran: str
    name: str
    returned_sku: str
    collection_provider: str | None = Field(description="stripe, or manual: staff record it")
    paid_reference: str | None
    paid_at: datetime | None
    released_at: datetime | None
    fulfilled_at: datetime | None
    cancelled_reason: str | None
    calculation: dict[str, Any] = Field(
        description="how the credit was worked out: the refund calculator's line for the "
        "returned units, and the stage whose facts fixed it (empty stage: an estimate)"
    )
    events: list[ExchangeEventOut]
    created_at: datetime


class ExchangePage(BaseModel):
    data: list[ExchangeDetailOut]


ANSWERS: dict[int, type] = {200: ExchangeDetailOut, **WITH_CONFLICT}


class ExchangeMarkPaidIn(_In):
    reference: str = Field(max_length=200, description="the payment's reference")
    note: str = Field("", max_length=2000)


class FulfilIn(_In):
    order_reference: str = Field(
        max_length=200, description="the merchant's order for the replacement"
    )


class CancelIn(_In):
    reason: str = Field(max_length=2000)


def exchange_detail_out(e: Exchange) -> dict[str, Any]:
    return {
        **exchange_out(e),
        "ran": format_ran(e.return_request.ran),
        "name": e.name,
        "returned_sku": e.return_line.sku,
        "collection_provider": e.collection_provider or None,
        "paid_reference": e.paid_reference or None,
        "paid_at": e.paid_at,
        "released_at": e.released_at,
        "fulfilled_at": e.fulfilled_at,
        "cancelled_reason": e.cancelled_reason or None,
        "calculation": e.calculation,
        "events": [
            {
                "status": entry.get("status", ""),
                "at": entry.get("at", ""),
                "actor": entry.get("actor", ""),
                "note": entry.get("note", ""),
            }
            for entry in e.events
        ],
        "created_at": e.created_at,
    }


def _answer(exchange_id: str, refund_ids: list[str]) -> HttpResponse:
    refunds_execute_now(refund_ids)
    return json_response(exchange_detail_out(exchanges.exchange_get(exchange_id)))


@router.get("/returns/{ran}/exchanges", response={200: ExchangePage, **PROBLEMS})
def return_exchanges(request: HttpRequest, ran: str) -> HttpResponse:
    """The return's exchanges with their status, price, credit and difference, and history."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        rows = selectors.exchanges_of(ret)
        for row in rows:
            row.return_request = ret
        return json_response({"data": [exchange_detail_out(e) for e in rows]})


@router.post("/exchanges/{exchange_id}/mark-paid", response=ANSWERS)
def exchange_mark_paid(
    request: HttpRequest, exchange_id: str, payload: ExchangeMarkPaidIn
) -> HttpResponse:
    """Staff record the difference the shopper paid (outside a payment link): the exchange is
    released. Only an exchange `awaiting_payment` (409 `invalid_transition` otherwise); the same
    reference again answers the exchange as it is."""
    with merchant_context(request, perm.REFUNDS_MARK_PAID) as (principal, _):
        _, refunds = exchanges.exchange_mark_paid(
            exchange_id=exchange_id,
            reference=payload.reference,
            note=payload.note,
            actor=principal.actor,
        )
        return _answer(exchange_id, refunds)


@router.post("/exchanges/{exchange_id}/fulfil", response=ANSWERS)
def exchange_fulfil(request: HttpRequest, exchange_id: str, payload: FulfilIn) -> HttpResponse:
    """The merchant shipped the replacement of a `released` exchange: its order reference."""
    with merchant_context(request, perm.CATALOG_MANAGE) as (principal, _):
        exchanges.exchange_fulfil(
            exchange_id=exchange_id,
            order_reference=payload.order_reference,
            actor=principal.actor,
        )
        return _answer(exchange_id, [])


@router.post("/exchanges/{exchange_id}/cancel", response=ANSWERS)
def exchange_cancel(request: HttpRequest, exchange_id: str, payload: CancelIn) -> HttpResponse:
    """Cancel an exchange that is not fulfilled, with a reason: the returned line is refunded
    like any refund (at once when the return's money is due), and a difference the shopper paid
    goes back."""
    with merchant_context(request, perm.RETURNS_CANCEL) as (principal, _):
        _, refunds = exchanges.exchange_cancel(
            exchange_id=exchange_id, reason=payload.reason, actor=principal.actor
        )
        return _answer(exchange_id, refunds)
