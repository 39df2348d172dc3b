"""R6 of QUALITY.md for Stripe's refund webhooks at the endpoint: an event that arrives after a
later one (pending after succeeded) is accepted and moves nothing backwards, a duplicate is
accepted once, a stale signature (a replay from an hour ago) and a tampered body are refused
with 401 and change nothing.

Carriers' and shops' webhooks have the same cases in their own tests (docs/reliability.md):
tests/shipping/test_tracking_webhooks.py, tests/integrations/test_webhooks.py.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest

from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.payments.conftest import stripe_server  # noqa: F401 - fixture
from tests.payments.servers import ServerHandle
from tests.refunds.conftest import create_return, pay_with
from tests.refunds.test_stripe_refunds import TOTAL, stripe_paid  # noqa: F401 - fixture
from tests.returns.test_returns_api import order  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def deliver(api: ApiClient, merchant: Merchant, body: str, signature: str) -> Any:
    return api.client.post(
        f"/api/v1/payments/stripe/{merchant.slug}/webhooks",
        body,
        content_type="application/json",
        headers={"Stripe-Signature": signature},
    )


def signed(secret: str, body: str, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def test_late_duplicate_stale_and_tampered_refund_events(
    api: ApiClient,
    merchant: Merchant,
    order: dict[str, Any],  # noqa: F811
    stripe_paid: ServerHandle,  # noqa: F811
) -> None:
    charge = stripe_paid.payment(TOTAL, refund_status="pending")
    tender = {"method": "card", "amount": {"amount": TOTAL, "currency": "USD"}}
    pay_with(api, order, [{**tender, "provider": "stripe", "external_reference": charge}])
    ran = create_return(api)["ran"]
    (refund,) = api.post(f"/returns/{ran}/refunds", {}).json()["refunds"]
    assert refund["status"] == "processing"
    reference = refund["provider_reference"]
    earlier = stripe_paid.settle(reference, "pending")
    later = stripe_paid.settle(reference, "succeeded")
    secret = stripe_paid.credentials["webhook_secret"]

    stale = deliver(
        api, merchant, later["body"], signed(secret, later["body"], int(time.time()) - 3600)
    )
    assert stale.status_code == 401
    tampered = deliver(
        api, merchant, later["body"].replace("succeeded", "failed"), later["signature"]
    )
    assert tampered.status_code == 401
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "processing"

    assert deliver(api, merchant, later["body"], later["signature"]).status_code == 200
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "succeeded"
    late = deliver(api, merchant, earlier["body"], earlier["signature"])
    assert late.status_code == 200  # accepted, so Stripe stops sending it
    again = deliver(api, merchant, later["body"], later["signature"])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    shown = api.get(f"/refunds/{refund['id']}").json()
    assert shown["status"] == "succeeded"  # not back to pending, not applied twice
    assert len(stripe_paid.ledger()) == 1
    events = api.get(f"/returns/{ran}/events").json()["data"]
    assert [e["type"] for e in events].count("refund.succeeded") == 1
