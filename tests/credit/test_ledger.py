"""The store credit and gift card ledgers through their services: issue, redeem, expire, reverse,
adjust; idempotency on references; soonest-expiring credit spent first; the expiry job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from returndesk.core.models import AuditLogEntry
from returndesk.core.money import Money
from returndesk.core.scheduling import PERIODIC_JOBS
from returndesk.core.tenancy import merchant_scope
from returndesk.credit import selectors, services
from returndesk.credit.models import StoreCreditEntry
from returndesk.notifications.models import OutboxMessage
from returndesk.tenants.models import Merchant
from tests.credit.helpers import (
    ACTOR,
    EMAIL,
    STAFF,
    adjust,
    check_invariants,
    issue,
    redeem,
    set_validity,
)

pytestmark = pytest.mark.django_db


def balance(merchant: Merchant, currency: str = "USD", email: str = EMAIL) -> int:
    with merchant_scope(merchant):
        return selectors.store_credit_balance(
            merchant=merchant, email=email, currency=currency
        ).amount


def test_an_issue_credits_the_amount_and_the_bonus_and_announces_it(merchant: Merchant) -> None:
    entry = issue(merchant, 6199, "rf_1", bonus=620)
    assert (entry.kind, entry.amount, entry.bonus_amount, entry.balance_after_amount) == (
        "issue",
        6819,
        620,
        6819,
    )
    assert balance(merchant) == 6819
    with scopes_disabled():
        event = OutboxMessage.objects.get(type="store_credit.issued")
    assert event.event_id == entry.public_id
    assert event.payload["data"] == {
        "email": EMAIL,
        "amount": {"amount": 6819, "currency": "USD"},
        "bonus": {"amount": 620, "currency": "USD"},
        "balance": {"amount": 6819, "currency": "USD"},
        "currency": "USD",
        "expires_at": None,
        "reference": "rf_1",
        "source": {"refund": "rf_1", "return": "RKQ4M2XD9TPH7"},
    }
    check_invariants(entry.account_id)


def test_issuing_twice_with_one_reference_answers_the_first_entry_and_writes_nothing(
    merchant: Merchant,
) -> None:
    first = issue(merchant, 1000, "rf_1")
    again = issue(merchant, 1000, "rf_1")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert balance(merchant) == 1000
    with scopes_disabled():
        assert StoreCreditEntry.objects.count() == 1
        assert OutboxMessage.objects.filter(type="store_credit.issued").count() == 1


def test_a_reference_reused_for_something_else_is_a_conflict(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    with pytest.raises(services.ReferenceConflict) as other_amount:
        issue(merchant, 999, "rf_1")
    assert other_amount.value.code == "reference_conflict" and other_amount.value.status == 409
    with pytest.raises(services.ReferenceConflict):
        issue(merchant, 1000, "rf_1", email="someone.else@example.com")
    with pytest.raises(services.ReferenceConflict):
        redeem(merchant, 1000, "rf_1")
    assert balance(merchant) == 1000


def test_emails_are_compared_without_case_or_spaces(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1", email="  Shopper@Example.COM ")
    redeem(merchant, 400, "order-1", email="SHOPPER@example.com")
    assert balance(merchant, email="shopper@example.com") == 600


def test_a_redemption_is_idempotent_on_its_reference(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    first = redeem(merchant, 300, "order-1")
    again = redeem(merchant, 300, "order-1")
    assert again.pk == first.pk and again.replayed
    assert balance(merchant) == 700
    with pytest.raises(services.ReferenceConflict):
        redeem(merchant, 200, "order-1")


def test_a_redemption_never_overdraws(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    with pytest.raises(services.InsufficientStoreCredit) as refused:
        redeem(merchant, 1001, "order-1")
    assert refused.value.code == "insufficient_store_credit" and refused.value.status == 409
    assert "10.00 USD" in refused.value.detail
    exact = redeem(merchant, 1000, "order-2")
    assert exact.balance_after_amount == 0
    with pytest.raises(services.InsufficientStoreCredit):
        redeem(merchant, 1, "order-3")
    check_invariants(exact.account_id)


def test_a_redemption_in_a_currency_the_customer_holds_none_of_is_a_mismatch(
    merchant: Merchant,
) -> None:
    issue(merchant, 1000, "rf_1")
    with pytest.raises(services.CurrencyMismatch) as refused:
        redeem(merchant, 100, "order-1", currency="EUR")
    assert refused.value.code == "currency_mismatch" and "USD" in refused.value.detail


def test_a_redemption_for_an_unknown_customer_is_not_found(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    issue(other_merchant, 1000, "rf_1")
    with pytest.raises(NotFound):
        redeem(merchant, 100, "order-1")
    with merchant_scope(merchant), pytest.raises(NotFound):
        selectors.store_credit_account(merchant=merchant, email=EMAIL)


def test_bad_input_is_refused_with_the_field(merchant: Merchant) -> None:
    for kwargs, field in (
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"bonus": -1}, "bonus"),
        ({"currency": "usd"}, "currency"),
        ({"email": "not an e-mail"}, "email"),
        ({"reference": " "}, "reference"),
        ({"source": {"refund": 12}}, "source"),
    ):
        args = {"amount": 100, "reference": "rf_x", **kwargs}
        with pytest.raises(ValidationFailed) as refused:
            issue(merchant, **args)
        assert refused.value.errors[0].field == field, kwargs


def test_redemptions_spend_the_soonest_expiring_credit_first(merchant: Merchant) -> None:
    set_validity(merchant, None)
    never = issue(merchant, 1000, "rf_never")
    set_validity(merchant, 90)
    late = issue(merchant, 1000, "rf_late")
    set_validity(merchant, 10)
    soon = issue(merchant, 1000, "rf_soon")
    redeem(merchant, 1500, "order-1")
    with merchant_scope(merchant):
        view = selectors.store_credit_account(merchant=merchant, email=EMAIL)
        left = {lot.reference: lot.remaining.amount for lot in view.lots}
        assert [lot.reference for lot in view.lots] == ["rf_late", "rf_never"]
        assert [e.kind for e in view.entries] == ["redeem", "issue", "issue", "issue"]
    assert left == {"rf_late": 500, "rf_never": 1000}
    assert view.balances == [Money(1500, "USD")]
    redeem(merchant, 1000, "order-2")
    with merchant_scope(merchant):
        view = selectors.store_credit_account(merchant=merchant, email=EMAIL)
    assert [(lot.reference, lot.remaining.amount) for lot in view.lots] == [("rf_never", 500)]
    check_invariants(soon.account_id)
    assert late.account_id == never.account_id == soon.account_id


def test_credit_expires_at_the_end_of_the_merchants_local_day(merchant: Merchant) -> None:
    set_validity(merchant, 30)
    issued_at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 26 Nov, 22:00 in New York
    with mock.patch("django.utils.timezone.now", return_value=issued_at):
        entry = issue(merchant, 1000, "rf_1")
    with scopes_disabled():
        expires_at = entry.lot.expires_at
    # 26 Nov + 30 days = 26 Dec, 23:59:59.999999 EST = 27 Dec 04:59:59.999999 UTC
    assert expires_at == datetime(2026, 12, 27, 4, 59, 59, 999999, tzinfo=UTC)


def test_the_expiry_job_expires_what_is_left_once(merchant: Merchant) -> None:
    set_validity(merchant, 10)
    first = issue(merchant, 1000, "rf_1")
    issue(merchant, 500, "rf_2")
    redeem(merchant, 1200, "order-1")  # all of rf_1, 200 of rf_2 (same expiry: issued first)
    set_validity(merchant, None)
    issue(merchant, 700, "rf_forever")
    later = timezone.now() + timedelta(days=12)
    assert services.store_credit_expire_due(now=later) == 1
    assert services.store_credit_expire_due(now=later) == 0  # run again: nothing more
    with scopes_disabled():
        expired = StoreCreditEntry.objects.get(kind="expire")
    assert expired.amount == -300 and expired.balance_after_amount == 700
    assert expired.actor_label == "store credit expiry"
    assert balance(merchant) == 700
    check_invariants(first.account_id)


def test_expired_credit_cannot_be_spent_before_the_job_runs(merchant: Merchant) -> None:
    set_validity(merchant, 1)
    issue(merchant, 1000, "rf_1")
    later = timezone.now() + timedelta(days=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert balance(merchant) == 0
        with pytest.raises(services.InsufficientStoreCredit):
            redeem(merchant, 100, "order-1")
        issue(merchant, 200, "rf_2")  # a write sweeps the expired lot first
    with scopes_disabled():
        kinds = list(StoreCreditEntry.objects.order_by("created_at", "pk").values_list("kind"))
    assert kinds == [("issue",), ("expire",), ("issue",)]
    assert services.store_credit_expire_due(now=later) == 0


def test_the_expiry_job_is_scheduled() -> None:
    job = {j.name: j for j in PERIODIC_JOBS}["expire_store_credit"]
    assert job.load() is services.store_credit_expire_due
    assert job.every <= timedelta(hours=1)


def test_staff_adjust_with_a_reason_and_it_is_audited(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    with pytest.raises(ValidationFailed) as no_reason:
        adjust(merchant, -100, "adj_1", " ")
    assert no_reason.value.errors[0].field == "reason"
    with pytest.raises(PermissionDenied):
        adjust(merchant, -100, "adj_1", "x", actor=Actor("user", "agent@acme.example"))
    taken = adjust(merchant, -400, "adj_1", "double refund")
    given = adjust(merchant, 250, "adj_2", "goodwill")
    assert (taken.balance_after_amount, given.balance_after_amount) == (600, 850)
    with pytest.raises(services.InsufficientStoreCredit):
        adjust(merchant, -851, "adj_3", "too much")
    audit = AuditLogEntry.objects.filter(action="store_credit.adjusted").order_by("pk")
    assert [a.changes["reason"] for a in audit] == ["double refund", "goodwill"]
    assert audit[0].changes["balance"] == {"from": "10.00 USD", "to": "6.00 USD"}
    assert audit[0].actor_label == "finance@acme.example"
    check_invariants(taken.account_id)


def test_a_reversal_takes_back_what_is_left_of_one_credit(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    issue(merchant, 500, "rf_2")
    redeem(merchant, 300, "order-1")  # from rf_1: same expiry (never), issued first
    entry = services.store_credit_reverse(
        merchant=merchant,
        issue_reference="rf_1",
        reason="the return was contradicted",
        reference="rev_1",
        actor=STAFF,
    )
    assert (entry.kind, entry.amount, entry.balance_after_amount) == ("reverse", -700, 500)
    assert entry.source["reference"] == "rf_1"
    with pytest.raises(services.NothingToReverse):
        services.store_credit_reverse(
            merchant=merchant, issue_reference="rf_1", reason="x", reference="rev_2", actor=STAFF
        )
    again = services.store_credit_reverse(
        merchant=merchant,
        issue_reference="rf_1",
        reason="the return was contradicted",
        reference="rev_1",
        actor=STAFF,
    )
    assert again.pk == entry.pk and again.replayed
    with pytest.raises(NotFound):
        services.store_credit_reverse(
            merchant=merchant, issue_reference="rf_9", reason="x", reference="rev_3", actor=STAFF
        )
    assert AuditLogEntry.objects.filter(action="store_credit.reversed").count() == 1
    check_invariants(entry.account_id)


def test_balances_are_per_currency(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    issue(merchant, 2000, "rf_2", currency="EUR")
    redeem(merchant, 500, "order-1", currency="EUR")
    with merchant_scope(merchant):
        view = selectors.store_credit_account(merchant=merchant, email=EMAIL)
        only_eur = selectors.store_credit_account(merchant=merchant, email=EMAIL, currency="EUR")
        none_gbp = selectors.store_credit_account(merchant=merchant, email=EMAIL, currency="GBP")
        assert only_eur.entries.count() == 2
    assert view.balances == [Money(1500, "EUR"), Money(1000, "USD")]
    assert only_eur.balances == [Money(1500, "EUR")]
    assert none_gbp.balances == [Money(0, "GBP")] and none_gbp.lots == []


def test_a_gift_card_credit_is_idempotent_and_keeps_one_currency(merchant: Merchant) -> None:
    def credit(amount: int, reference: str, currency: str = "USD", code: str = "gc-1") -> object:
        return services.gift_card_credit(
            merchant=merchant,
            code=code,
            currency=currency,
            amount=amount,
            reference=reference,
            source={"refund": reference},
            actor=ACTOR,
        )

    first = credit(2000, "rf_1")
    credit(500, "rf_2", code=" GC-1 ")
    again = credit(2000, "rf_1")
    assert again.pk == first.pk and again.replayed  # type: ignore[attr-defined]
    with pytest.raises(services.CurrencyMismatch):
        credit(100, "rf_3", currency="EUR")
    with pytest.raises(services.ReferenceConflict):
        credit(100, "rf_1")
    with merchant_scope(merchant):
        card = selectors.gift_card_account(merchant=merchant, code="gc-1")
        assert [e.amount for e in card.entries] == [500, 2000]
        with pytest.raises(NotFound):
            selectors.gift_card_account(merchant=merchant, code="gc-2")
    assert card.balance == Money(2500, "USD") and card.code == "GC-1"


def test_validity_settings_are_checked_and_audited(merchant: Merchant) -> None:
    for bad in (0, 3651, -1, True):
        with pytest.raises(ValidationFailed):
            set_validity(merchant, bad)  # type: ignore[arg-type]
    set_validity(merchant, 365)
    set_validity(merchant, 365)  # unchanged: no second audit entry
    set_validity(merchant, None)
    with merchant_scope(merchant):
        assert selectors.credit_settings_for(merchant=merchant).store_credit_validity_days is None
    changes = [
        a.changes["store_credit_validity_days"]
        for a in AuditLogEntry.objects.filter(action="credit_settings.saved").order_by("pk")
    ]
    assert changes == [{"from": None, "to": 365}, {"from": 365, "to": None}]
