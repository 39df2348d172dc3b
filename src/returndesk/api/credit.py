"""Store credit and gift cards (API.md): a customer's balance and ledger, redemption at the
merchant's checkout, a gift card's balance, and how long new store credit lasts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, Field, StrictInt

from returndesk.api.auth import merchant_context
from returndesk.api.pagination import paginate
from returndesk.api.render import json_response, money
from returndesk.api.schemas import PROBLEMS, MoneyOut, ProblemOut
from returndesk.catalog.schemas import Currency, MoneyIn, WriteModel
from returndesk.credit import selectors, services
from returndesk.credit.models import ISSUE, CreditSettings, GiftCardEntry, StoreCreditEntry
from returndesk.tenants import permissions as perm

router = Router(tags=["store credit"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut}


class StoreCreditEntryOut(BaseModel):
    id: str
    type: str = Field(description="issue, redeem, expire, reverse or adjust")
    amount: MoneyOut = Field(description="what the entry added to the balance (negative: took)")
    bonus: MoneyOut | None = Field(description="of an issue: the part of the amount that is bonus")
    balance_after: MoneyOut
    reference: str = Field(
        description="the refund id of an issue, the checkout's order id of a "
        "redemption; unique per merchant"
    )
    source: dict[str, str | None]
    reason: str | None
    actor: str
    created_at: datetime


class StoreCreditLotOut(BaseModel):
    id: str
    amount: MoneyOut
    remaining: MoneyOut
    issued_at: datetime
    expires_at: datetime | None = Field(description="null: never expires")
    entry_id: str
    reference: str


class StoreCreditOut(BaseModel):
    email: str
    balances: list[MoneyOut] = Field(description="what can be spent now, per currency")
    lots: list[StoreCreditLotOut] = Field(description="credit left, soonest expiry first")
    data: list[StoreCreditEntryOut] = Field(description="the ledger, newest first")
    next_cursor: str | None


class PageQuery(BaseModel):
    limit: int | None = None
    cursor: str | None = None


class StoreCreditQuery(PageQuery):
    currency: Currency | None = None


class RedemptionIn(WriteModel):
    amount: MoneyIn
    reference: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the checkout's order id: a repeat with the same reference redeems once"
    )


class RedemptionOut(BaseModel):
    entry: StoreCreditEntryOut
    balance: MoneyOut = Field(description="what is left to spend in the redemption's currency")


class GiftCardEntryOut(BaseModel):
    id: str
    type: str = Field(description="credit: a refund back to the card")
    amount: MoneyOut
    balance_after: MoneyOut
    reference: str
    source: dict[str, str | None]
    created_at: datetime


class GiftCardOut(BaseModel):
    code: str
    balance: MoneyOut = Field(description="what ReturnDesk credited; spending is the shop's")
    data: list[GiftCardEntryOut]
    next_cursor: str | None


class CreditSettingsIn(WriteModel):
    store_credit_validity_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = Field(
        description="days new store credit lasts, to the end of the merchant's local day; "
        "null: it never expires"
    )


class CreditSettingsOut(BaseModel):
    store_credit_validity_days: int | None


def _ledger_page[E: (StoreCreditEntry, GiftCardEntry)](
    entries: QuerySet[E], params: PageQuery
) -> tuple[list[E], str | None]:
    """One page of a ledger, newest first, by (created_at, public id)."""
    return paginate(
        entries,
        ordering=["-created_at", "-public_id"],
        cursor=params.cursor,
        limit=params.limit,
        parse=[datetime.fromisoformat, str],
    )


def entry_out(entry: StoreCreditEntry) -> dict[str, Any]:
    return {
        "id": entry.public_id,
        "type": entry.kind,
        "amount": money(entry.amount, entry.currency),
        "bonus": money(entry.bonus_amount, entry.currency) if entry.kind == ISSUE else None,
        "balance_after": money(entry.balance_after_amount, entry.currency),
        "reference": entry.reference,
        "source": entry.source,
        "reason": entry.reason or None,
        "actor": entry.actor_label,
        "created_at": entry.created_at,
    }


def gift_card_entry_out(entry: GiftCardEntry) -> dict[str, Any]:
    return {
        "id": entry.public_id,
        "type": entry.kind,
        "amount": money(entry.amount, entry.currency),
        "balance_after": money(entry.balance_after_amount, entry.currency),
        "reference": entry.reference,
        "source": entry.source,
        "created_at": entry.created_at,
    }


def settings_out(row: CreditSettings) -> dict[str, Any]:
    return {"store_credit_validity_days": row.store_credit_validity_days}


@router.get("/customers/{email}/store-credit", response={200: StoreCreditOut, **PROBLEMS})
def store_credit_get(
    request: HttpRequest, email: str, params: Query[StoreCreditQuery]
) -> HttpResponse:
    """A customer's store credit: what they can spend now per currency, the credit left with its
    expiry, and the ledger newest first (paginated). 404 for an e-mail the merchant does not
    know."""
    with merchant_context(request, perm.STORE_CREDIT_VIEW) as (_, merchant):
        view = selectors.store_credit_account(
            merchant=merchant, email=email, currency=params.currency
        )
        rows, next_cursor = _ledger_page(view.entries, params)
        return json_response(
            {
                "email": view.email,
                "balances": [b.as_dict() for b in view.balances],
                "lots": [
                    {
                        "id": lot.id,
                        "amount": lot.amount.as_dict(),
                        "remaining": lot.remaining.as_dict(),
                        "issued_at": lot.issued_at,
                        "expires_at": lot.expires_at,
                        "entry_id": lot.entry_id,
                        "reference": lot.reference,
                    }
                    for lot in view.lots
                ],
                "data": [entry_out(e) for e in rows],
                "next_cursor": next_cursor,
            }
        )


@router.post(
    "/customers/{email}/store-credit/redemptions",
    response={200: RedemptionOut, 201: RedemptionOut, **WITH_CONFLICT},
)
def store_credit_redemption(
    request: HttpRequest, email: str, payload: RedemptionIn
) -> HttpResponse:
    """Spend store credit at the merchant's checkout, soonest-expiring credit first. 201 with
    the entry and what is left; 200 with the same for a repeat of a reference already redeemed.
    409 `insufficient_store_credit` beyond the balance, 409 `currency_mismatch` for a currency
    the customer holds no credit in."""
    with merchant_context(request, perm.STORE_CREDIT_REDEEM) as (principal, merchant):
        entry = services.store_credit_redeem(
            merchant=merchant,
            email=email,
            currency=payload.amount.currency,
            amount=payload.amount.amount,
            reference=payload.reference,
            actor=principal.actor,
        )
        balance = selectors.store_credit_balance(
            merchant=merchant, email=email, currency=entry.currency
        )
        return json_response(
            {"entry": entry_out(entry), "balance": balance.as_dict()},
            200 if entry.replayed else 201,
        )


@router.get("/gift-cards/{code}", response={200: GiftCardOut, **PROBLEMS})
def gift_card_get(request: HttpRequest, code: str, params: Query[PageQuery]) -> HttpResponse:
    """A gift card's balance from the refunds credited to it, and those entries newest first.
    404 for a card never credited."""
    with merchant_context(request, perm.STORE_CREDIT_VIEW) as (_, merchant):
        view = selectors.gift_card_account(merchant=merchant, code=code)
        rows, next_cursor = _ledger_page(view.entries, params)
        return json_response(
            {
                "code": view.code,
                "balance": view.balance.as_dict(),
                "data": [gift_card_entry_out(e) for e in rows],
                "next_cursor": next_cursor,
            }
        )


@router.get("/store-credit/settings", response={200: CreditSettingsOut, **PROBLEMS})
def credit_settings_get(request: HttpRequest) -> HttpResponse:
    """How long new store credit lasts."""
    with merchant_context(request, perm.MERCHANT_SETTINGS) as (_, merchant):
        return json_response(settings_out(selectors.credit_settings_for(merchant=merchant)))


@router.put("/store-credit/settings", response={200: CreditSettingsOut, **PROBLEMS})
def credit_settings_put(request: HttpRequest, payload: CreditSettingsIn) -> HttpResponse:
    """Set how long new store credit lasts (credit already issued keeps its expiry)."""
    with merchant_context(request, perm.MERCHANT_SETTINGS) as (principal, merchant):
        row = services.credit_settings_update(
            merchant=merchant,
            store_credit_validity_days=payload.store_credit_validity_days,
            actor=principal.actor,
        )
        return json_response(settings_out(row))
