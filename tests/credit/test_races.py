"""Concurrency on PostgreSQL: redemptions racing for one balance never overdraw it, an issue
repeated at once is written once, and two workers expiring at once expire each lot once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.credit import services
from returndesk.credit.models import StoreCreditAccount, StoreCreditEntry
from returndesk.notifications.models import OutboxMessage
from returndesk.tenants.models import Merchant
from tests.credit.helpers import EMAIL, check_invariants, issue, redeem, set_validity

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
THREADS = 16


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run `work(i)` on `count` threads released together; answers results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def account_pk() -> int:
    with scopes_disabled():
        return StoreCreditAccount.objects.get(email=EMAIL).pk


def test_racing_redemptions_never_overdraw(merchant: Merchant) -> None:
    set_validity(merchant, 30)
    issue(merchant, 4000, "rf_1")
    set_validity(merchant, None)
    issue(merchant, 3000, "rf_2")
    issue(merchant, 3000, "rf_3")  # 10,000 in three lots

    results = at_once(lambda i: redeem(merchant, 1500, f"order-{i}"))
    won = [r for r in results if isinstance(r, StoreCreditEntry)]
    refused = [r for r in results if isinstance(r, services.InsufficientStoreCredit)]
    assert len(won) + len(refused) == THREADS, results
    assert len(won) == 6  # 6 x 15.00 = 90.00 of 100.00; a seventh would overdraw
    assert sum(-e.amount for e in won) <= 10_000
    with scopes_disabled():
        assert StoreCreditAccount.objects.get(email=EMAIL).balance_amount == 1000
    check_invariants(account_pk())


def test_racing_redemptions_of_the_whole_balance_spend_it_once(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    results = at_once(lambda i: redeem(merchant, 1000, f"order-{i}"))
    assert sum(isinstance(r, StoreCreditEntry) for r in results) == 1
    assert all(
        isinstance(r, StoreCreditEntry | services.InsufficientStoreCredit) for r in results
    ), results
    check_invariants(account_pk())


def test_one_redemption_retried_at_once_is_written_once(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    results = at_once(lambda i: redeem(merchant, 300, "order-1"))
    assert all(isinstance(r, StoreCreditEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    with scopes_disabled():
        assert StoreCreditAccount.objects.get(email=EMAIL).balance_amount == 700


def test_one_issue_retried_at_once_is_written_once(merchant: Merchant) -> None:
    # the first ever credit of this customer: the account itself is created in the race
    results = at_once(lambda i: issue(merchant, 2500, "rf_1", bonus=250))
    assert all(isinstance(r, StoreCreditEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    with scopes_disabled():
        assert StoreCreditAccount.objects.get(email=EMAIL).balance_amount == 2750
        assert OutboxMessage.objects.filter(type="store_credit.issued").count() == 1
    check_invariants(account_pk())


def test_two_workers_expiring_at_once_expire_each_lot_once(merchant: Merchant) -> None:
    set_validity(merchant, 1)
    for i in range(5):
        issue(merchant, 100, f"rf_{i}", email=f"shopper{i}@example.com")
    later = timezone.now() + timedelta(days=3)
    results = at_once(lambda i: services.store_credit_expire_due(now=later), count=4)
    assert sum(results) == 5, results
    with scopes_disabled():
        assert StoreCreditEntry.objects.filter(kind="expire").count() == 5
        assert set(StoreCreditAccount.objects.values_list("balance_amount", flat=True)) == {0}
