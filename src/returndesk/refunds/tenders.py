"""Where a refund goes: the total split across the order's tenders by the merchant's rule. Pure.

No Django. `allocate_to_tenders` takes what is due, the order's tenders and what each took back
before, and answers one `Allocation` per tender that gets money, naming the provider route that
pays it. Splits use `core.money.allocate` (largest remainder, ties to the earlier tender), so the
parts sum to the total exactly. docs/refunds.md, "Tenders".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from returndesk.core.money import Money, allocate

__all__ = [
    "ALLOCATION_RULES",
    "DEFAULT_ALLOCATION_RULE",
    "DEFAULT_PROVIDERS",
    "LEDGER_METHODS",
    "MANUAL",
    "TENDER_METHODS",
    "Allocation",
    "Tender",
    "TendersShort",
    "allocate_to_tenders",
    "provider_route",
]

TENDER_METHODS: tuple[str, ...] = ("card", "paypal", "gift_card", "store_credit", "other")
# Internal ledgers: refunded by crediting them again, at once, with no outside provider.
LEDGER_METHODS: tuple[str, ...] = ("gift_card", "store_credit")
# gift_cards_first: gift cards and store credit back to themselves first (in tender order), the
# rest to the other tenders in proportion. card_first: card tenders first, the rest in
# proportion. proportional: every tender in proportion.
ALLOCATION_RULES: tuple[str, ...] = ("gift_cards_first", "proportional", "card_first")
DEFAULT_ALLOCATION_RULE = "gift_cards_first"
_FIRST: dict[str, tuple[str, ...]] = {
    "gift_cards_first": LEDGER_METHODS,
    "card_first": ("card",),
    "proportional": (),
}
MANUAL = "manual"  # finance pays outside the system and marks the refund paid
# Payment providers with an adapter; a card or PayPal tender paid through another goes manual.
DEFAULT_PROVIDERS: tuple[str, ...] = ("stripe", "paypal")


class TendersShort(ValueError):
    """The tenders cannot take back what is due: the inputs disagree about what was refunded."""


@dataclass(frozen=True)
class Tender:
    """One way the order was paid. `amount` in minor units of `currency`."""

    tender_id: str  # stable within the order (the tender's position, or its public id)
    method: str  # one of TENDER_METHODS
    amount: int
    currency: str
    provider: str = ""  # "stripe", "paypal", ... as the order says; empty when unknown
    external_reference: str = ""  # the payment's id at the provider (charge, capture)


@dataclass(frozen=True)
class Allocation:
    tender_id: str | None  # None: the order has no tender; finance pays it by hand
    method: str
    provider: str  # the route that pays it: a provider, a ledger, or "manual"
    amount: Money
    available: Money  # what the tender could still take back before this refund
    external_reference: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tender_id": self.tender_id,
            "method": self.method,
            "provider": self.provider,
            "amount": self.amount.as_dict(),
            "available": self.available.as_dict(),
            "external_reference": self.external_reference,
            "reason": self.reason,
        }


def provider_route(
    tender: Tender, *, resolution: str, providers: Collection[str] = DEFAULT_PROVIDERS
) -> tuple[str, str]:
    """The route that pays a tender's share, and why: (provider, reason)."""
    if resolution == "store_credit":
        return "store_credit", "issued as store credit (the shopper chose store credit)"
    if tender.method in LEDGER_METHODS:
        label = "gift card" if tender.method == "gift_card" else "store credit"
        return tender.method, f"back to the {label} it was paid with (internal ledger)"
    if tender.method == "other":
        return MANUAL, "paid by another method: finance refunds it outside the system"
    provider = tender.provider or (tender.method if tender.method == "paypal" else "")
    if provider in providers:
        return provider, f"back to the {tender.method} payment through {provider}"
    why = f"no {provider} adapter" if provider else "the order names no payment provider"
    return MANUAL, f"{why}: finance refunds the {tender.method} payment by hand"


def allocate_to_tenders(
    total: int,
    tenders: Sequence[Tender],
    refunded_before: Mapping[str, int],
    *,
    currency: str,
    rule: str = DEFAULT_ALLOCATION_RULE,
    resolution: str = "refund",
    providers: Collection[str] = DEFAULT_PROVIDERS,
) -> tuple[Allocation, ...]:
    """Split `total` (>= 0) across the tenders by `rule`, never more to a tender than it can
    still take back. `TendersShort` when they cannot take it all; ValueError for a bad rule."""
    if rule not in ALLOCATION_RULES:
        raise ValueError(f"unknown allocation rule '{rule}'; choose {', '.join(ALLOCATION_RULES)}")
    if total < 0:
        raise ValueError("a refund is never negative")
    if total == 0:
        return ()
    if not tenders:
        return (
            Allocation(
                tender_id=None,
                method="none",
                provider=MANUAL,
                amount=Money(total, currency),
                available=Money(total, currency),
                external_reference="",
                reason="the order has no recorded tender: finance refunds it outside the system",
            ),
        )
    available = [max(0, t.amount - refunded_before.get(t.tender_id, 0)) for t in tenders]
    if total > sum(available):
        raise TendersShort(
            f"the refund of {Money(total, currency)} is more than the "
            f"{Money(sum(available), currency)} the order's tenders can still take back"
        )
    shares = [0] * len(tenders)
    remaining = total
    first = _FIRST[rule]
    for i, tender in enumerate(tenders):
        if tender.method in first and remaining:
            shares[i] = min(remaining, available[i])
            remaining -= shares[i]
    rest = [i for i, t in enumerate(tenders) if t.method not in first and available[i] > 0]
    if remaining:
        # In proportion to what each can still take back: a share never exceeds it (the total
        # is at most their sum), and repeated partial refunds keep the tenders' proportions.
        for i, part in zip(rest, allocate(remaining, [available[i] for i in rest]), strict=True):
            shares[i] = part
    result: list[Allocation] = []
    for i, tender in enumerate(tenders):
        if shares[i] == 0:
            continue
        provider, why = provider_route(tender, resolution=resolution, providers=providers)
        order = "first" if tender.method in first else "in proportion"
        result.append(
            Allocation(
                tender_id=tender.tender_id,
                method=tender.method,
                provider=provider,
                amount=Money(shares[i], currency),
                available=Money(available[i], currency),
                external_reference=tender.external_reference,
                reason=f"{rule}: {tender.method} {order}; {why}",
            )
        )
    return tuple(result)
