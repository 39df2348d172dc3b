"""Ledger properties over random sequences of issues, redemptions, adjustments, reversals and
the passing of time with the expiry job: the balance is the sum of the entries and of what is
left of the lots, never negative; every debit takes the soonest-expiring credit first; a
redemption is refused exactly when it is more than the credit not yet expired."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from returndesk.credit import services
from returndesk.credit.models import StoreCreditAccount, StoreCreditLot
from returndesk.tenants.models import Merchant
from tests.credit.helpers import STAFF, adjust, check_invariants, issue, redeem, set_validity

pytestmark = pytest.mark.django_db
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EXAMPLE = itertools.count()

issues = st.tuples(
    st.just("issue"),
    st.integers(1, 5000),
    st.sampled_from([None, 1, 2, 3, 4]),  # validity in days
    st.sampled_from([0, 0, 250]),  # bonus
)
redemptions = st.tuples(st.just("redeem"), st.integers(1, 4000))
operations = st.lists(
    st.one_of(
        issues,
        redemptions,
        issues,  # twice as likely: several lots with different expiries, then spent in part
        redemptions,
        st.tuples(st.just("adjust"), st.integers(-3000, 3000).filter(bool)),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.integers(1, 60)),  # hours, then the expiry job
    ),
    min_size=3,
    max_size=25,
)


@dataclass
class Lot:
    """The model's view of a credit: what it was, when it expires, what is left."""

    reference: str
    expires_at: datetime | None
    remaining: int


def spendable(lots: list[Lot], now: datetime) -> list[Lot]:
    open_lots = [
        lot
        for lot in lots
        if lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > now)
    ]
    # soonest expiry first, never-expiring last, then in the order they were credited
    return sorted(open_lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or now))


def sweep(lots: list[Lot], now: datetime) -> None:
    for lot in lots:
        if lot.expires_at is not None and lot.expires_at <= now:
            lot.remaining = 0


def take(lots: list[Lot], amount: int, now: datetime) -> None:
    for lot in spendable(lots, now):
        part = min(amount, lot.remaining)
        lot.remaining -= part
        amount -= part
    assert amount == 0


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # the explain phase replays a failure hundreds of times against the database: minutes
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
@given(ops=operations)
def test_any_sequence_keeps_the_ledger_consistent(merchant: Merchant, ops: list[tuple]) -> None:
    email = f"shopper{next(EXAMPLE)}@example.com"
    clock = [START]
    model: list[Lot] = []
    counter = itertools.count()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: clock[0]):
        for op in ops:
            now = clock[0]
            ref = f"{email}:{next(counter)}"
            if op[0] == "issue":
                _, amount, days, bonus = op
                set_validity(merchant, days)
                entry = issue(merchant, amount, ref, email=email, bonus=bonus)
                sweep(model, now)
                with scopes_disabled():
                    expires_at = StoreCreditLot.objects.get(entry=entry).expires_at
                model.append(Lot(ref, expires_at, amount + bonus))
            elif op[0] == "redeem" or (op[0] == "adjust" and op[1] < 0):
                amount = abs(op[1])
                available = sum(lot.remaining for lot in spendable(model, now))
                try:
                    if op[0] == "redeem":
                        redeem(merchant, amount, ref, email=email)
                    else:
                        adjust(merchant, -amount, ref, email=email)
                except services.InsufficientStoreCredit:
                    assert amount > available
                except Exception as exc:  # no account yet: a new customer has nothing to spend
                    assert not model, exc
                else:
                    assert amount <= available
                    sweep(model, now)
                    take(model, amount, now)
            elif op[0] == "adjust":
                entry = adjust(merchant, op[1], ref, email=email)
                sweep(model, now)
                with scopes_disabled():
                    expires_at = StoreCreditLot.objects.get(entry=entry).expires_at
                model.append(Lot(ref, expires_at, op[1]))
            elif op[0] == "reverse":
                if not model:
                    continue
                target = model[op[1] % len(model)]
                expired = target.expires_at is not None and target.expires_at <= now
                try:
                    services.store_credit_reverse(
                        merchant=merchant,
                        issue_reference=target.reference,
                        reason="property",
                        reference=ref,
                        actor=STAFF,
                    )
                except services.NothingToReverse:
                    assert target.remaining == 0 or expired
                else:
                    assert target.remaining > 0 and not expired
                    sweep(model, now)
                    target.remaining = 0
            else:
                clock[0] = now + timedelta(hours=op[1])
                services.store_credit_expire_due(now=clock[0])
                sweep(model, clock[0])
            with scopes_disabled():
                account = StoreCreditAccount.objects.filter(email=email).first()
                if account is None:
                    assert not model
                    continue
                check_invariants(account.pk)
                left = dict(
                    StoreCreditLot.objects.filter(account=account).values_list(
                        "entry__reference", "remaining_amount"
                    )
                )
                assert left == {lot.reference: lot.remaining for lot in model}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    credits=st.lists(
        st.tuples(st.integers(1, 3000), st.sampled_from([None, 1, 5, 30, 365])),
        min_size=1,
        max_size=6,
    ),
    share=st.integers(1, 100),
)
def test_a_redemption_takes_the_soonest_expiring_credit_first(
    merchant: Merchant, credits: list[tuple[int, int | None]], share: int
) -> None:
    email = f"fifo{next(EXAMPLE)}@example.com"
    model = []
    with mock.patch("django.utils.timezone.now", return_value=START):
        for i, (amount, days) in enumerate(credits):
            set_validity(merchant, days)
            entry = issue(merchant, amount, f"{email}:{i}", email=email)
            with scopes_disabled():
                model.append(Lot(entry.reference, entry.lot.expires_at, amount))
        wanted = max(1, sum(amount for amount, _ in credits) * share // 100)
        redeem(merchant, wanted, f"{email}:order", email=email)
    take(model, wanted, START)
    with scopes_disabled():
        left = dict(
            StoreCreditLot.objects.filter(account__email=email).values_list(
                "entry__reference", "remaining_amount"
            )
        )
    assert left == {lot.reference: lot.remaining for lot in model}
