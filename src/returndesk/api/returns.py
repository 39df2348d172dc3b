from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel

from returndesk.api.auth import merchant_context
from returndesk.api.fields import UtcDateTime
from returndesk.api.inspections import warehouse_of_return
from returndesk.api.labels import label_out
from returndesk.api.pagination import paginate
from returndesk.api.receipts import package_out, receipt_out
from returndesk.api.refunds import money_of_return
from returndesk.api.render import json_response, money
from returndesk.api.schemas import (
    PROBLEMS,
    EligibilityOut,
    EventPage,
    ProblemOut,
    ReturnOut,
    ReturnPage,
)
from returndesk.core.codes import format_ran
from returndesk.returns import selectors, services
from returndesk.returns.models import Return, ReturnEvent
from returndesk.returns.schemas import ActionIn, EligibilityIn, ReturnIn
from returndesk.shipping import selectors as shipping_selectors
from returndesk.tenants import permissions as perm
from returndesk.warehouse import selectors as warehouse_selectors

router = Router(tags=["returns"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut}
ACTION_PERMISSIONS = {
    "approve": perm.RETURNS_REVIEW,
    "reject": perm.RETURNS_REVIEW,
    "cancel": perm.RETURNS_CANCEL,
    "reopen": perm.RETURNS_REOPEN,
    "mark-lost": perm.RETURNS_MARK_LOST,
}


def return_out(ret: Return) -> dict[str, Any]:
    return {
        "ran": format_ran(ret.ran),
        "status": ret.status,
        "order_number": ret.order.order_number if ret.order else ret.claimed_order_number,
        "email": ret.email,
        "channel": ret.channel,
        "resolution": ret.resolution,
        "gift": ret.gift,
        "proof_of_purchase_upload_id": ret.proof_of_purchase_upload_id or None,
        "policy_version": ret.policy_version.version if ret.policy_version else None,
        "decision": ret.decision,
        "risk": {"score": float(ret.risk_score), "reasons": ret.risk_reasons},
        "lines": [
            {
                "line_id": line.order_line.line_id if line.order_line else None,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "reason": line.reason,
                "comment": line.comment,
                "photo_upload_ids": line.photo_upload_ids,
                "value": money(line.value_amount, line.currency),
                "exchange_for": (
                    {"sku": line.exchange_sku, "quantity": line.exchange_quantity}
                    if line.exchange_sku
                    else None
                ),
            }
            for line in ret.lines.all()
        ],
        "fees": money(ret.fees_amount, ret.currency),
        "refund_estimate": money(ret.refund_estimate_amount, ret.currency),
        "authorized_at": ret.authorized_at,
        "expires_at": ret.expires_at,
        "exception": (
            {"reason": ret.exception_reason, "at": ret.exception_at} if ret.exception_at else None
        ),
        "created_at": ret.created_at,
        "updated_at": ret.updated_at,
    }


def event_out(event: ReturnEvent) -> dict[str, Any]:
    return {
        "id": event.public_id,
        "type": event.type,
        "from_status": event.from_status or None,
        "to_status": event.to_status or None,
        "actor": event.actor_label,
        "channel": event.channel or None,
        "reason": event.reason or None,
        "payload": event.payload,
        "at": event.created_at,
    }


class ReturnFilters(BaseModel):
    status: str | None = None
    channel: str | None = None
    order_number: str | None = None
    email: str | None = None
    created_from: UtcDateTime | None = None
    created_to: UtcDateTime | None = None
    limit: int | None = None
    cursor: str | None = None


@router.post("/eligibility", response={200: EligibilityOut, **PROBLEMS})
def eligibility(request: HttpRequest, payload: EligibilityIn) -> HttpResponse:
    """What the policy would decide now, line by line, with the clauses, fees and the refund
    estimate. Writes nothing."""
    with merchant_context(request, perm.RETURNS_CREATE) as (_, merchant):
        return json_response(services.eligibility_check(merchant=merchant, data=payload.to_input()))


@router.post("/returns", response={201: ReturnOut, **PROBLEMS})
def return_create(request: HttpRequest, payload: ReturnIn) -> HttpResponse:
    """Create a return: authorized with its RAN, sent to review, or rejected, with reasons."""
    with merchant_context(request, perm.RETURNS_CREATE) as (principal, merchant):
        ret = services.return_create(
            actor=principal.actor, merchant=merchant, data=payload.to_input()
        )
        return json_response(return_out(ret), 201)  # read back with its lines by the service


@router.get("/returns", response={200: ReturnPage, **PROBLEMS})
def return_list(request: HttpRequest, filters: Query[ReturnFilters]) -> HttpResponse:
    """Returns, newest first, filtered by status, channel, order number, e-mail or date."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        rows, next_cursor = paginate(
            selectors.return_list(
                merchant=merchant,
                **filters.model_dump(exclude={"limit", "cursor"}),
            ),
            ordering=["-created_at", "ran"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=[datetime.fromisoformat, str],
        )
        return json_response({"data": [return_out(r) for r in rows], "next_cursor": next_cursor})


@router.get("/returns/{ran}", response={200: ReturnOut, **PROBLEMS})
def return_get(request: HttpRequest, ran: str) -> HttpResponse:
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = selectors.return_get(merchant=merchant, ran=ran)
        label = shipping_selectors.active_label(ret=ret)
        receipt = warehouse_selectors.receipt_for_return(ret=ret)
        return json_response(
            {
                **return_out(ret),
                "label": label_out(label) if label else None,
                "receipts": [receipt_out(receipt)] if receipt else [],
                "unidentified_packages": [
                    package_out(package)
                    for package in warehouse_selectors.packages_of_return(ret=ret)
                ],
                **warehouse_of_return(ret),
                **money_of_return(ret),
            }
        )


@router.get("/returns/{ran}/events", response={200: EventPage, **PROBLEMS})
def return_events(request: HttpRequest, ran: str) -> HttpResponse:
    """The return's timeline, oldest first."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        ret = selectors.return_get(merchant=merchant, ran=ran)
        events = [event_out(e) for e in selectors.return_events(ret=ret)]
        return json_response({"data": events, "next_cursor": None})


def _act(request: HttpRequest, ran: str, action: str, payload: ActionIn) -> HttpResponse:
    with merchant_context(request, ACTION_PERMISSIONS[action]) as (principal, merchant):
        ret = selectors.return_get(merchant=merchant, ran=ran)
        services.return_act(actor=principal.actor, ret=ret, action=action, reason=payload.reason)
        return json_response(return_out(selectors.return_get(merchant=merchant, ran=ran)))


@router.post("/returns/{ran}/approve", response={200: ReturnOut, **WITH_CONFLICT})
def return_approve(request: HttpRequest, ran: str, payload: ActionIn) -> HttpResponse:
    """Authorize a return that is pending review."""
    return _act(request, ran, "approve", payload)


@router.post("/returns/{ran}/reject", response={200: ReturnOut, **WITH_CONFLICT})
def return_reject(request: HttpRequest, ran: str, payload: ActionIn) -> HttpResponse:
    """Reject a return that is pending review."""
    return _act(request, ran, "reject", payload)


@router.post("/returns/{ran}/cancel", response={200: ReturnOut, **WITH_CONFLICT})
def return_cancel(request: HttpRequest, ran: str, payload: ActionIn) -> HttpResponse:
    """Cancel a return that has not shipped."""
    return _act(request, ran, "cancel", payload)


@router.post("/returns/{ran}/reopen", response={200: ReturnOut, **WITH_CONFLICT})
def return_reopen(request: HttpRequest, ran: str, payload: ActionIn) -> HttpResponse:
    """Authorize again a return that expired."""
    return _act(request, ran, "reopen", payload)


@router.post("/returns/{ran}/mark-lost", response={200: ReturnOut, **WITH_CONFLICT})
def return_mark_lost(request: HttpRequest, ran: str, payload: ActionIn) -> HttpResponse:
    """Record that the carrier lost a return in transit."""
    return _act(request, ran, "mark-lost", payload)
