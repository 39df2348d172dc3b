"""Refunds paid through Stripe's official library against the replay server: paid at once,
pending then confirmed by a signed webhook, errors retried under one idempotency key, a refusal
shown as failed and retried under a new key, and R1 of QUALITY.md: 32 requests at once for one
return reach Stripe once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.refunds.execution import refunds_execute_due
from returndesk.refunds.models import Refund, RefundAttempt
from tests.conftest import ApiClient
from tests.payments.conftest import stripe_server  # noqa: F401 - the fixture
from tests.payments.servers import ServerHandle
from tests.refunds.conftest import create_return, due_at_once, pay_with

pytestmark = pytest.mark.django_db

TOTAL = 19900 + 2500  # what the `order` fixture's order was paid


@pytest.fixture
def stripe_paid(
    api: ApiClient,
    order: dict,
    stripe_server: ServerHandle,  # noqa: F811
    settings: Any,
) -> ServerHandle:
    settings.RETURNDESK_STRIPE_API_BASE = stripe_server.url
    creds = stripe_server.credentials
    response = api.put(
        "/payments/settings",
        {
            "stripe_secret_key": creds["secret_key"],
            "stripe_webhook_secret": creds["webhook_secret"],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["stripe_secret_key"].startswith("…")  # a hint, never the key
    charge = stripe_server.payment(TOTAL)
    pay_with(
        api,
        order,
        [
            {
                "method": "card",
                "amount": {"amount": TOTAL, "currency": "USD"},
                "provider": "stripe",
                "external_reference": charge,
            }
        ],
    )
    due_at_once(api)
    return stripe_server


def test_a_card_refund_is_paid_through_stripe_at_once(
    api: ApiClient, stripe_paid: ServerHandle
) -> None:
    ran = create_return(api)["ran"]
    issued = api.post(f"/returns/{ran}/refunds", {})
    assert issued.status_code == 201, issued.content
    (refund,) = issued.json()["refunds"]
    assert (refund["provider"], refund["status"]) == ("stripe", "succeeded")
    assert refund["provider_reference"].startswith("re_")
    (made,) = stripe_paid.ledger()
    assert made["amount"] == refund["amount"]["amount"]
    assert made["id"] == refund["provider_reference"]
    assert api.post(f"/returns/{ran}/refunds", {}).status_code == 409


def test_a_pending_refund_is_confirmed_by_a_signed_webhook_once(
    api: ApiClient, order: dict, stripe_paid: ServerHandle, merchant: Any
) -> None:
    charge = stripe_paid.payment(TOTAL, refund_status="pending")
    pay_with(
        api,
        order,
        [
            {
                "method": "card",
                "amount": {"amount": TOTAL, "currency": "USD"},
                "provider": "stripe",
                "external_reference": charge,
            }
        ],
    )
    ran = create_return(api)["ran"]
    (refund,) = api.post(f"/returns/{ran}/refunds", {}).json()["refunds"]
    assert refund["status"] == "processing"
    event = stripe_paid.settle(refund["provider_reference"], "succeeded")
    url = f"/api/v1/payments/stripe/{merchant.slug}/webhooks"
    client = api.client

    tampered = client.post(
        url,
        event["body"].replace("succeeded", "failed"),
        content_type="application/json",
        headers={"Stripe-Signature": event["signature"]},
    )
    assert tampered.status_code == 401
    first = client.post(
        url,
        event["body"],
        content_type="application/json",
        headers={"Stripe-Signature": event["signature"]},
    )
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    again = client.post(
        url,
        event["body"],
        content_type="application/json",
        headers={"Stripe-Signature": event["signature"]},
    )
    assert again.json()["status"] == "duplicate"
    shown = api.get(f"/refunds/{refund['id']}").json()
    assert shown["status"] == "succeeded"
    assert len(stripe_paid.ledger()) == 1


def test_a_lost_answer_is_retried_under_the_same_key_and_pays_once(
    api: ApiClient, stripe_paid: ServerHandle
) -> None:
    ran = create_return(api)["ran"]
    # Stripe makes the refund, then the answer is lost twice: a 500 and a dropped connection.
    stripe_paid.fault("error", count=1, status=500, after=True, path="/v1/refunds")
    (refund,) = api.post(f"/returns/{ran}/refunds", {}).json()["refunds"]
    assert refund["status"] == "processing"
    assert refund["failure_message"]
    with scopes_disabled():
        Refund.objects.filter(public_id=refund["id"]).update(next_attempt_at=timezone.now())
    assert refunds_execute_due() == 1
    shown = api.get(f"/refunds/{refund['id']}").json()
    assert shown["status"] == "succeeded"
    assert [a["outcome"] for a in shown["attempts"]] == ["error", "succeeded"]
    assert len(stripe_paid.ledger()) == 1


def test_a_refusal_fails_visibly_and_a_retry_uses_a_new_key(
    api: ApiClient, stripe_paid: ServerHandle
) -> None:
    ran = create_return(api)["ran"]
    stripe_paid.fault("error", count=1, status=402, path="/v1/refunds")
    (refund,) = api.post(f"/returns/{ran}/refunds", {}).json()["refunds"]
    assert refund["status"] == "failed", refund
    assert refund["failure_message"]
    with scopes_disabled():
        old_key = Refund.objects.get(public_id=refund["id"]).idempotency_key
    retried = api.post(f"/refunds/{refund['id']}/retry", {})
    assert retried.status_code == 200
    assert retried.json()["status"] == "succeeded", retried.json()
    with scopes_disabled():
        assert Refund.objects.get(public_id=refund["id"]).idempotency_key != old_key
        assert RefundAttempt.objects.filter(refund__public_id=refund["id"]).count() == 2
    assert len(stripe_paid.ledger()) == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_32_requests_at_once_reach_stripe_once(api: ApiClient, stripe_paid: ServerHandle) -> None:
    """R1: half the requests share one Idempotency-Key, half have their own."""
    ran = create_return(api)["ran"]
    shared = str(uuid.uuid4())
    keys = [shared] * 16 + [str(uuid.uuid4()) for _ in range(16)]
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(len(keys))

    def go(key: str) -> None:
        barrier.wait()
        try:
            response = api.client.post(
                f"/api/v1/returns/{ran}/refunds",
                "{}",
                content_type="application/json",
                headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": key},
            )
            code = response.json().get("code", "") if response.status_code != 201 else ""
            answers.append((response.status_code, code))
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 32
    created = [a for a in answers if a[0] == 201]
    assert created, answers
    refused = {a[1] for a in answers if a[0] != 201}
    assert refused <= {"nothing_due", "idempotency_in_progress"}, answers
    assert len(stripe_paid.ledger()) == 1
    with scopes_disabled():
        refunds = list(Refund.objects.all())
    assert len(refunds) == 1
    assert refunds[0].amount <= TOTAL


def test_a_refund_without_an_answer_for_a_day_is_not_retried_blind(
    api: ApiClient, stripe_paid: ServerHandle
) -> None:
    ran = create_return(api)["ran"]
    stripe_paid.fault("error", count=1, status=500, after=True, path="/v1/refunds")
    (refund,) = api.post(f"/returns/{ran}/refunds", {}).json()["refunds"]
    with scopes_disabled():
        Refund.objects.filter(public_id=refund["id"]).update(status="failed")
        RefundAttempt.objects.filter(refund__public_id=refund["id"]).update(
            started_at=timezone.now() - timedelta(days=2)
        )
    refused = api.post(f"/refunds/{refund['id']}/retry", {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "refund_uncertain"
    (made,) = stripe_paid.ledger()
    paid = api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": made["id"]})
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
    assert len(stripe_paid.ledger()) == 1
