"""A customer's personal data in store credit (core/privacy.py says how the apps' privacy
modules fit together).

The ledger is a financial record: every entry, lot and balance stays as it is. Only the account's
e-mail becomes the placeholder, so credit left on it can no longer be spent by that e-mail; the
erasure's answer says how much was left, for the merchant to settle.
"""

from __future__ import annotations

from typing import Any

from returndesk.core.privacy import Subject
from returndesk.credit.models import StoreCreditAccount


def export(subject: Subject) -> dict[str, Any]:
    accounts = StoreCreditAccount.objects.filter(
        merchant_id=subject.merchant_id, email=subject.email
    ).prefetch_related("entries")
    return {
        "store_credit": [
            {
                "id": a.public_id,
                "email": a.email,
                "currency": a.currency,
                "balance": a.balance_amount,
                "entries": [
                    {
                        "id": e.public_id,
                        "kind": e.kind,
                        "amount": e.amount,
                        "balance_after": e.balance_after_amount,
                        "reference": e.reference,
                        "reason": e.reason,
                        "at": e.created_at,
                    }
                    for e in sorted(a.entries.all(), key=lambda e: (e.created_at, e.pk))
                ],
            }
            for a in accounts.order_by("currency")
        ]
    }


def erase(subject: Subject) -> dict[str, int]:
    changed = left = 0
    for account in StoreCreditAccount.objects.filter(
        merchant_id=subject.merchant_id, email=subject.email
    ):
        placeholder = subject.placeholder
        taken = StoreCreditAccount.objects.filter(
            merchant_id=subject.merchant_id, email=placeholder, currency=account.currency
        )
        if taken.exists():  # erased before, and credited again since: keep the ledgers apart
            placeholder = placeholder.replace("@", f".{account.pk}@")
        account.email = placeholder
        account.save(update_fields=["email", "updated_at"])
        changed += 1
        left += account.balance_amount > 0
    return {"store_credit_accounts": changed, "store_credit_accounts_with_balance": left}
