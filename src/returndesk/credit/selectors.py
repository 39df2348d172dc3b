"""Reading the store credit and gift card ledgers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from returndesk.catalog.models import Customer
from returndesk.catalog.services import normalize_email
from returndesk.core.errors import NotFound
from returndesk.core.money import Money
from returndesk.credit.models import (
    CreditSettings,
    GiftCard,
    GiftCardEntry,
    StoreCreditAccount,
    StoreCreditEntry,
    StoreCreditLot,
)
from returndesk.tenants.models import Merchant


@dataclass(frozen=True)
class StoreCreditLotView:
    id: str
    amount: Money
    remaining: Money
    issued_at: datetime
    expires_at: datetime | None  # None: never
    entry_id: str  # the issue or adjustment that credited it
    reference: str


@dataclass(frozen=True)
class StoreCreditView:
    email: str
    # what the customer can spend now, per currency (credit past its expiry is not counted,
    # even before the expiry job has written its `expire` entry)
    balances: list[Money]
    lots: list[StoreCreditLotView]  # credit left to spend, soonest expiry first
    entries: QuerySet[StoreCreditEntry]  # the ledger, newest first


@dataclass(frozen=True)
class GiftCardView:
    code: str
    balance: Money
    entries: QuerySet[GiftCardEntry]  # newest first


def normalize_code(raw: str) -> str:
    """Gift card codes are compared trimmed and without case."""
    return raw.strip().upper()


def credit_settings_for(*, merchant: Merchant) -> CreditSettings:
    """The merchant's store credit settings (unsaved defaults when it has none)."""
    row = CreditSettings.objects.filter(merchant=merchant).first()
    return row or CreditSettings(merchant=merchant)


def customer_known(*, merchant: Merchant, email: str) -> bool:
    """Whether the merchant knows this e-mail: a customer of its orders, or a holder of store
    credit (a gift's recipient may be no customer)."""
    return (
        Customer.objects.filter(merchant=merchant, email=email).exists()
        or StoreCreditAccount.objects.filter(merchant=merchant, email=email).exists()
    )


def store_credit_account(
    *, merchant: Merchant, email: str, currency: str | None = None, now: datetime | None = None
) -> StoreCreditView:
    """A customer's store credit: spendable balance per currency (just `currency` when given,
    zero when they hold none in it), open lots, and the ledger newest first. 404 for an e-mail
    the merchant does not know, exactly as for another merchant's customer."""
    email = normalize_email(email)
    if not email or not customer_known(merchant=merchant, email=email):
        raise NotFound("There is no such customer.")
    now = now or timezone.now()
    accounts = StoreCreditAccount.objects.filter(merchant=merchant, email=email)
    if currency is not None:
        accounts = accounts.filter(currency=currency)
    lots = list(
        StoreCreditLot.objects.filter(account__in=accounts, remaining_amount__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("entry")
        .order_by(F("expires_at").asc(nulls_last=True), "created_at", "pk")
    )
    totals = {a.currency: 0 for a in accounts}
    if currency is not None:
        totals.setdefault(currency, 0)
    for lot in lots:
        totals[lot.currency] += lot.remaining_amount
    return StoreCreditView(
        email=email,
        balances=[Money(totals[c], c) for c in sorted(totals)],
        lots=[
            StoreCreditLotView(
                id=lot.public_id,
                amount=Money(lot.amount, lot.currency),
                remaining=Money(lot.remaining_amount, lot.currency),
                issued_at=lot.created_at,
                expires_at=lot.expires_at,
                entry_id=lot.entry.public_id,
                reference=lot.entry.reference,
            )
            for lot in lots
        ],
        entries=StoreCreditEntry.objects.filter(account__in=accounts).order_by(
            "-created_at", "-public_id"
        ),
    )


def store_credit_balance(
    *, merchant: Merchant, email: str, currency: str, now: datetime | None = None
) -> Money:
    """What the customer can spend now in `currency` (zero when they hold none)."""
    now = now or timezone.now()
    remaining = StoreCreditLot.objects.filter(
        merchant=merchant,
        account__email=normalize_email(email),
        currency=currency,
        remaining_amount__gt=0,
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return Money(sum(remaining.values_list("remaining_amount", flat=True)), currency)


def gift_card_account(*, merchant: Merchant, code: str) -> GiftCardView:
    """A gift card's balance from our credits and its entries newest first; 404 for a code we
    never credited, exactly as for another merchant's card."""
    card = GiftCard.objects.filter(merchant=merchant, code=normalize_code(code)).first()
    if card is None:
        raise NotFound("There is no such gift card.")
    return GiftCardView(
        code=card.code,
        balance=Money(card.balance_amount, card.currency),
        entries=GiftCardEntry.objects.filter(card=card).order_by("-created_at", "-public_id"),
    )
