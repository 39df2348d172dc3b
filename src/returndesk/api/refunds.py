"""Refunds (API.md): a return's refund plan and refunds, issuing what is due exactly once,
finance's actions (mark a manual refund paid, retry a failed one), adjustments, and the
merchant's payment settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from returndesk.api.auth import merchant_context
from returndesk.api.fields import UtcDateTime
from returndesk.api.pagination import paginate
from returndesk.api.render import json_response, money
from returndesk.api.schemas import PROBLEMS, MoneyOut, ProblemOut
from returndesk.core.codes import format_ran
from returndesk.core.errors import FieldError, ValidationFailed
from returndesk.core.secrets import secret_hint
from returndesk.refunds import selectors, services, webhooks
from returndesk.refunds.execution import refunds_execute_now
from returndesk.refunds.models import (
    ADJUSTMENT_ACTIONS,
    REFUND_STATUSES,
    Adjustment,
    Exchange,
    PaymentSettings,
    Refund,
    Settlement,
)
from returndesk.refunds.tenders import ALLOCATION_RULES
from returndesk.returns import selectors as return_selectors
from returndesk.returns.models import Return
from returndesk.tenants import permissions as perm

router = Router(tags=["refunds"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    message: str


class RefundOut(BaseModel):
    id: str
    ran: str
    settlement: str
    status: Literal["pending", "processing", "succeeded", "failed"]
    kind: str
    method: str
    provider: str
    amount: MoneyOut
    bonus: MoneyOut
    payment_reference: str | None
    provider_reference: str | None
    failure_message: str | None
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    created_at: datetime
    succeeded_at: datetime | None
    failed_at: datetime | None


class SettlementOut(BaseModel):
    id: str
    number: int
    stage: str
    resolution: str
    total: MoneyOut
    bonus: MoneyOut
    units: dict[str, int]
    calculation: dict[str, Any] = Field(
        description="the calculator's answer: every line with its paid amount, each deduction "
        "with its reason and the clause or finding behind it, shipping, and the tenders"
    )
    created_at: datetime


class AdjustmentOut(BaseModel):
    id: str
    ran: str
    cause: str
    findings: list[str]
    amount: MoneyOut
    status: Literal["open", "resolved"]
    action: str | None
    note: str
    created_at: datetime
    resolved_at: datetime | None


class ExchangeOut(BaseModel):
    id: str
    line_id: str | None
    sku: str
    quantity: int
    status: str
    price: MoneyOut
    credit: MoneyOut
    difference: MoneyOut
    instant: bool
    collection_url: str | None
    merchant_order_reference: str | None


class RefundPlanOut(BaseModel):
    ran: str
    timing: str = Field(description="when the money is due: authorization ... inspection")
    due_now: bool
    reason: str
    plan: dict[str, Any] | None = Field(description="the calculation of what is due now")
    issued: MoneyOut
    settlements: list[SettlementOut]
    refunds: list[RefundOut]
    adjustments: list[AdjustmentOut]
    exchanges: list[ExchangeOut]


class SettleOut(BaseModel):
    settlement: SettlementOut
    refunds: list[RefundOut]


class RefundPage(BaseModel):
    data: list[RefundOut]
    next_cursor: str | None


class AdjustmentPage(BaseModel):
    data: list[AdjustmentOut]
    next_cursor: str | None


class MarkPaidIn(_In):
    reference: str = Field(max_length=200, description="how finance paid it: the reference")
    note: str = Field("", max_length=2000)


class ResolveIn(_In):
    action: Literal["charge_back", "carrier_claim", "write_off"]
    note: str = Field(max_length=2000)


class PaymentSettingsIn(_In):
    allocation_rule: Literal["gift_cards_first", "proportional", "card_first"] | None = None
    stripe_secret_key: str | None = Field(None, max_length=300, description="write-only")
    stripe_webhook_secret: str | None = Field(None, max_length=300, description="write-only")
    paypal_client_id: str | None = Field(None, max_length=200)
    paypal_client_secret: str | None = Field(None, max_length=300, description="write-only")
    paypal_environment: Literal["sandbox", "live"] | None = None
    max_attempts: int | None = Field(None, ge=1, le=8)


class PaymentSettingsOut(BaseModel):
    allocation_rule: str
    allocation_rules: list[str]
    stripe_secret_key: str = Field(description="a hint only: whether it is set, its end")
    stripe_webhook_secret: str
    paypal_client_id: str
    paypal_client_secret: str
    paypal_environment: str
    max_attempts: int


def refund_out(r: Refund) -> dict[str, Any]:
    return {
        "id": r.public_id,
        "ran": format_ran(r.return_request.ran),
        "settlement": r.settlement.public_id,
        "status": r.status,
        "kind": r.kind,
        "method": r.method,
        "provider": r.provider,
        "amount": money(r.amount, r.currency),
        "bonus": money(r.bonus_amount, r.currency),
        "payment_reference": r.payment_reference or None,
        "provider_reference": r.provider_reference or None,
        "failure_message": r.failure_message or None,
        "attempts": [
            {
                "number": a.number,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "outcome": a.outcome,
                "message": a.message,
            }
            for a in sorted(r.attempt_rows.all(), key=lambda a: a.number)
        ],
        "next_attempt_at": r.next_attempt_at,
        "created_at": r.created_at,
        "succeeded_at": r.succeeded_at,
        "failed_at": r.failed_at,
    }


def settlement_out(s: Settlement) -> dict[str, Any]:
    return {
        "id": s.public_id,
        "number": s.number,
        "stage": s.stage,
        "resolution": s.resolution,
        "total": money(s.total_amount, s.currency),
        "bonus": money(s.bonus_amount, s.currency),
        "units": s.units,
        "calculation": s.calculation,
        "created_at": s.created_at,
    }


def adjustment_out(a: Adjustment) -> dict[str, Any]:
    return {
        "id": a.public_id,
        "ran": format_ran(a.return_request.ran),
        "cause": a.cause,
        "findings": list(a.findings),
        "amount": money(a.amount, a.currency),
        "status": a.status,
        "action": a.action or None,
        "note": a.note,
        "created_at": a.created_at,
        "resolved_at": a.resolved_at,
    }


def exchange_out(e: Exchange) -> dict[str, Any]:
    line = e.return_line.order_line if e.return_line.order_line_id else None
    return {
        "id": e.public_id,
        "line_id": line.line_id if line else None,
        "sku": e.sku,
        "quantity": e.quantity,
        "status": e.status,
        "price": money(e.price_amount, e.currency),
        "credit": money(e.credit_amount, e.currency),
        "difference": money(e.difference_amount, e.currency),
        "instant": e.instant,
        "collection_url": e.collection_url or None,
        "merchant_order_reference": e.merchant_order_reference or None,
    }


def money_of_return(ret: Return) -> dict[str, Any]:
    """The refunds, adjustments and exchanges of a return, for GET /returns/{ran}."""
    return {
        "refunds": [refund_out(r) for r in selectors.refunds_of(ret)],
        "adjustments": [adjustment_out(a) for a in selectors.adjustments_of(ret)],
        "exchanges": [exchange_out(e) for e in selectors.exchanges_of(ret)],
    }


def _plan_out(ret: Return) -> dict[str, Any]:
    plan = services.refund_plan(ret)
    return {
        "ran": format_ran(ret.ran),
        "timing": plan.timing,
        "due_now": plan.due is not None,
        "reason": plan.reason,
        "plan": plan.due.as_dict() if plan.due else None,
        "issued": plan.issued.as_dict(),
        "settlements": [settlement_out(s) for s in selectors.settlements_of(ret)],
        **money_of_return(ret),
    }


@router.get("/returns/{ran}/refunds", response={200: RefundPlanOut, **PROBLEMS})
def return_refunds(request: HttpRequest, ran: str) -> HttpResponse:
    """The refund plan (what is due now, line by line, and why) and the refunds so far."""
    with merchant_context(request, perm.REFUNDS_VIEW) as (_, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        return json_response(_plan_out(ret))


class IssueIn(_In):
    currency: str | None = Field(
        None, min_length=3, max_length=3, description="when given, must be the return's currency"
    )


@router.post("/returns/{ran}/refunds", response={201: SettleOut, **WITH_CONFLICT})
def return_refunds_issue(
    request: HttpRequest, ran: str, payload: IssueIn | None = None
) -> HttpResponse:
    """Issue what is due now, exactly once. Store credit and gift cards are credited at once;
    provider refunds are made before this answers when the provider is quick, and by the worker
    otherwise. Nothing due: 409 `nothing_due` (or `not_due_yet`, naming when it will be)."""
    with merchant_context(request, perm.REFUNDS_ISSUE) as (principal, merchant):
        ret = return_selectors.return_get(merchant=merchant, ran=ran)
        if payload is not None and payload.currency and payload.currency.upper() != ret.currency:
            raise ValidationFailed(
                f"Return {format_ran(ret.ran)} is in {ret.currency}, not {payload.currency}.",
                errors=[FieldError("currency", f"must be {ret.currency}")],
                code="currency_mismatch",
            )
        settlement = services.refunds_settle(ret=ret, actor=principal.actor)
        ids = [r.public_id for r in settlement.refunds.all()]
        refunds_execute_now(ids)
        refunds = [selectors.refund_get(i) for i in ids]
        return json_response(
            {"settlement": settlement_out(settlement), "refunds": [refund_out(r) for r in refunds]},
            status=201,
        )


class RefundFilters(BaseModel):
    status: Literal["pending", "processing", "succeeded", "failed"] | None = None
    provider: str | None = Field(None, max_length=20)
    method: str | None = Field(None, max_length=20)
    created_from: UtcDateTime | None = None
    created_to: UtcDateTime | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int | None = None


@router.get("/refunds", response={200: RefundPage, **PROBLEMS})
def refund_list(request: HttpRequest, filters: Query[RefundFilters]) -> HttpResponse:
    """Refunds, newest first, by status, provider, method and period."""
    with merchant_context(request, perm.REFUNDS_VIEW):
        qs = selectors.refunds_query(
            status=filters.status,
            provider=filters.provider,
            method=filters.method,
            created_from=filters.created_from,
            created_to=filters.created_to,
        ).prefetch_related("attempt_rows")
        rows, next_cursor = paginate(
            qs,
            ordering=["-created_at", "-public_id"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=[datetime.fromisoformat, str],
        )
        return json_response({"data": [refund_out(r) for r in rows], "next_cursor": next_cursor})


@router.get("/refunds/{refund_id}", response={200: RefundOut, **PROBLEMS})
def refund_detail(request: HttpRequest, refund_id: str) -> HttpResponse:
    with merchant_context(request, perm.REFUNDS_VIEW):
        return json_response(refund_out(selectors.refund_get(refund_id)))


@router.post("/refunds/{refund_id}/mark-paid", response={200: RefundOut, **WITH_CONFLICT})
def refund_mark_paid(request: HttpRequest, refund_id: str, payload: MarkPaidIn) -> HttpResponse:
    """Finance paid a manual refund outside ReturnDesk: record the payment's reference."""
    with merchant_context(request, perm.REFUNDS_MARK_PAID) as (principal, _):
        services.refund_mark_paid(
            refund_id=refund_id,
            reference=payload.reference,
            note=payload.note,
            actor=principal.actor,
        )
        return json_response(refund_out(selectors.refund_get(refund_id)))


@router.post("/refunds/{refund_id}/retry", response={200: RefundOut, **WITH_CONFLICT})
def refund_retry(request: HttpRequest, refund_id: str) -> HttpResponse:
    """Try a failed refund again (409 `refund_state` unless it failed)."""
    with merchant_context(request, perm.REFUNDS_RETRY) as (principal, _):
        services.refund_retry(refund_id=refund_id, actor=principal.actor)
        refunds_execute_now([refund_id])
        return json_response(refund_out(selectors.refund_get(refund_id)))


class AdjustmentFilters(BaseModel):
    status: Literal["open", "resolved"] | None = None
    cursor: str | None = Field(None, max_length=500)
    limit: int | None = None


@router.get("/adjustments", response={200: AdjustmentPage, **PROBLEMS})
def adjustment_list(request: HttpRequest, filters: Query[AdjustmentFilters]) -> HttpResponse:
    with merchant_context(request, perm.REFUNDS_VIEW):
        rows, next_cursor = paginate(
            selectors.adjustments_query(status=filters.status),
            ordering=["-created_at", "-public_id"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=[datetime.fromisoformat, str],
        )
        return json_response(
            {"data": [adjustment_out(a) for a in rows], "next_cursor": next_cursor}
        )


@router.post("/adjustments/{adjustment_id}/resolve", response={200: AdjustmentOut, **WITH_CONFLICT})
def adjustment_resolve(
    request: HttpRequest, adjustment_id: str, payload: ResolveIn
) -> HttpResponse:
    """Resolve an adjustment by charge-back, carrier claim or write-off, saying what was done."""
    with merchant_context(request, perm.ADJUSTMENTS_RESOLVE) as (principal, _):
        adjustment = services.adjustment_resolve(
            adjustment_id=adjustment_id,
            action=payload.action,
            note=payload.note,
            actor=principal.actor,
        )
        return json_response(adjustment_out(adjustment))


def payment_settings_out(row: PaymentSettings) -> dict[str, Any]:
    return {
        "allocation_rule": row.allocation_rule,
        "allocation_rules": list(ALLOCATION_RULES),
        "stripe_secret_key": secret_hint(row.stripe_secret_key),
        "stripe_webhook_secret": secret_hint(row.stripe_webhook_secret),
        "paypal_client_id": row.paypal_client_id,
        "paypal_client_secret": secret_hint(row.paypal_client_secret),
        "paypal_environment": row.paypal_environment,
        "max_attempts": row.max_attempts,
    }


@router.get("/payments/settings", response={200: PaymentSettingsOut, **PROBLEMS})
def payment_settings_get(request: HttpRequest) -> HttpResponse:
    """How refunds are paid: the tender rule and each provider's credentials (as hints)."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (_, merchant):
        return json_response(payment_settings_out(services.payment_settings_for(merchant.pk)))


@router.put("/payments/settings", response={200: PaymentSettingsOut, **PROBLEMS})
def payment_settings_put(request: HttpRequest, payload: PaymentSettingsIn) -> HttpResponse:
    """Change what is given; secrets are write-only (an empty string leaves one as it is)."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (principal, merchant):
        row = services.payment_settings_update(
            merchant_id=merchant.pk,
            changes=payload.model_dump(exclude_unset=True),
            actor=principal.actor,
        )
        return json_response(payment_settings_out(row))


__all__ = ["ADJUSTMENT_ACTIONS", "REFUND_STATUSES", "money_of_return", "router"]


class PaymentWebhookOut(BaseModel):
    id: str = Field(description="our id for the stored event (the original's, if a duplicate)")
    status: str = Field(description="accepted (applied or queued) or duplicate (ignored)")


@router.post(
    "/payments/stripe/{merchant_slug}/webhooks",
    auth=None,
    response={200: PaymentWebhookOut, 401: ProblemOut, 404: ProblemOut, 413: ProblemOut},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Stripe event (`charge.refunded`, `refund.updated`, `refund.failed`, "
            "`checkout.session.completed`), signed with the merchant's webhook secret "
            "(`Stripe-Signature`) over the raw bytes.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def stripe_webhook(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """Stripe's events for a merchant's refunds and exchange payments. Stored raw and applied;
    an event already received is a duplicate and changes nothing. An unsigned, tampered or
    stale event is stored as rejected and answers 401."""
    received = webhooks.payment_webhook_receive(
        merchant_slug=merchant_slug, provider="stripe", body=request.body, headers=request.headers
    )
    if received.status == "accepted":
        webhooks.payment_webhook_process(received.pk)
    return json_response({"id": received.id, "status": received.status})
