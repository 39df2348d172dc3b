"""Shared helpers of the credit tests: issuing with defaults, reading the ledger back, and the
invariants every account keeps."""

from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.credit import services
from returndesk.credit.models import (
    StoreCreditAccount,
    StoreCreditEntry,
    StoreCreditLot,
    StoreCreditLotUse,
)
from returndesk.tenants.models import Merchant

ACTOR = Actor.system("tests")
STAFF = Actor("user", "finance@acme.example", permissions=frozenset({"store_credit.adjust"}))
EMAIL = "shopper@example.com"


def issue(merchant: Merchant, amount: int, reference: str, **kw: Any) -> StoreCreditEntry:
    return services.store_credit_issue(
        merchant=merchant,
        email=kw.pop("email", EMAIL),
        currency=kw.pop("currency", "USD"),
        amount=amount,
        reference=reference,
        source=kw.pop("source", {"refund": reference, "return": "RKQ4M2XD9TPH7"}),
        actor=ACTOR,
        **kw,
    )


def redeem(merchant: Merchant, amount: int, reference: str, **kw: Any) -> StoreCreditEntry:
    return services.store_credit_redeem(
        merchant=merchant,
        email=kw.pop("email", EMAIL),
        currency=kw.pop("currency", "USD"),
        amount=amount,
        reference=reference,
        actor=ACTOR,
    )


def adjust(
    merchant: Merchant, amount: int, reference: str, reason: str = "correction", **kw: Any
) -> StoreCreditEntry:
    return services.store_credit_adjust(
        merchant=merchant,
        email=kw.pop("email", EMAIL),
        currency=kw.pop("currency", "USD"),
        amount=amount,
        reason=reason,
        reference=reference,
        actor=kw.pop("actor", STAFF),
    )


def set_validity(merchant: Merchant, days: int | None) -> None:
    services.credit_settings_update(merchant=merchant, store_credit_validity_days=days, actor=ACTOR)


def check_invariants(account_pk: int) -> None:
    """balance = sum of entries = sum of what is left of the lots >= 0; each lot's remainder is
    its amount less its uses; each entry's balance_after follows from the one before."""
    with scopes_disabled():
        account = StoreCreditAccount.objects.get(pk=account_pk)
        entries = list(
            StoreCreditEntry.objects.filter(account=account).order_by("created_at", "pk")
        )
        running = 0
        for entry in entries:
            running += entry.amount
            assert entry.balance_after_amount == running >= 0
        assert account.balance_amount == running >= 0
        lots = StoreCreditLot.objects.filter(account=account)
        assert sum(lot.remaining_amount for lot in lots) == running
        for lot in lots:
            used = StoreCreditLotUse.objects.filter(lot=lot).aggregate(s=Sum("amount"))["s"] or 0
            assert 0 <= lot.remaining_amount == lot.amount - used
        for entry in entries:
            used = StoreCreditLotUse.objects.filter(entry=entry).aggregate(s=Sum("amount"))["s"]
            if entry.amount < 0:
                assert used == -entry.amount
            else:
                assert used is None and entry.lot.amount == entry.amount
