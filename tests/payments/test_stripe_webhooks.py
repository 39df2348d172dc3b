"""Stripe webhooks: the signature checked by the library, and each event type read into what
refunds and collections need. Events are Stripe's event fixture with a refund, a charge or a
Checkout Session inside (../shared/data/payloads/stripe), signed as Stripe signs them with the
library's own `WebhookSignature.generate_signature_header`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import stripe
from django.conf import settings

from returndesk.refunds.providers import RefundOrder, WebhookSignatureInvalid, provider_for
from returndesk.refunds.providers.stripe import stripe_event
from tests.conftest import require_outside
from tests.payments.servers import ServerHandle, stripe_files

SECRET = "whsec_test_returndesk"


def fixture(name: str) -> dict[str, Any]:
    path = stripe_files(Path(settings.RETURNDESK_DATA_DIR))[name]
    require_outside("../shared/data", path.is_file(), f"{path} is absent; Stripe's fixtures")
    return dict(json.loads(path.read_text()))


def webhook(event_type: str, obj: dict[str, Any], *, secret: str = SECRET, **signing: Any):
    event = {**fixture("event"), "id": "evt_1QrefundTest", "type": event_type}
    event["data"] = {"object": obj}
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, **signing)
    return body.encode(), header


def refund_object(**overrides: Any) -> dict[str, Any]:
    return {**fixture("refund"), "metadata": {"returndesk_refund": "rfd_7QK2M"}, **overrides}


def test_a_signed_refund_update_is_read() -> None:
    body, header = webhook("refund.updated", refund_object(status="succeeded"))
    event = stripe_event(body, header, SECRET)
    refund = fixture("refund")
    assert (event.event_id, event.type, event.handled) == (
        "evt_1QrefundTest",
        "refund.updated",
        True,
    )
    [update] = event.refunds
    assert (update.reference, update.refund_id, update.status) == (
        refund["id"],
        "rfd_7QK2M",
        "succeeded",
    )
    assert (update.amount, update.currency, update.charge) == (
        refund["amount"],
        "USD",
        refund["charge"],
    )
    assert event.references == (refund["id"],)
    assert event.refund_ids == ("rfd_7QK2M",)
    assert event.charge == refund["charge"]


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("succeeded", "succeeded"),
        ("pending", "pending"),
        ("requires_action", "pending"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_refund_statuses_map_to_ours(stripe_status: str, ours: str) -> None:
    body, header = webhook("refund.updated", refund_object(status=stripe_status))
    [update] = stripe_event(body, header, SECRET).refunds
    assert update.status == ours
    assert bool(update.message) == (ours == "failed")


def test_a_failed_refund_carries_stripes_reason() -> None:
    obj = refund_object(status="failed", failure_reason="lost_or_stolen_card")
    body, header = webhook("refund.failed", obj)
    [update] = stripe_event(body, header, SECRET).refunds
    assert (update.status, update.message) == ("failed", "lost_or_stolen_card")


def test_a_refund_made_in_stripes_dashboard_has_no_id_of_ours() -> None:
    body, header = webhook("refund.created", fixture("refund"))
    event = stripe_event(body, header, SECRET)
    assert event.refunds[0].refund_id == ""
    assert event.refund_ids == ()


def test_charge_refunded_lists_the_charges_refunds() -> None:
    refund = refund_object()
    charge = fixture("charge")
    charge.update(amount_refunded=refund["amount"], refunded=True)
    charge["refunds"] = {**charge["refunds"], "data": [refund]}
    body, header = webhook("charge.refunded", charge)
    event = stripe_event(body, header, SECRET)
    assert event.handled
    assert event.charge == charge["id"]
    assert event.references == (refund["id"],)
    assert event.refunds[0].status == "succeeded"


def test_charge_refunded_without_the_list_names_the_charge_only() -> None:
    charge = fixture("charge")
    charge.pop("refunds")  # recent API versions leave it out unless expanded
    body, header = webhook("charge.refunded", charge)
    event = stripe_event(body, header, SECRET)
    assert (event.handled, event.charge, event.refunds) == (True, charge["id"], ())


@pytest.mark.parametrize(
    ("event_type", "session", "status"),
    [
        ("checkout.session.completed", {"status": "complete", "payment_status": "paid"}, "paid"),
        (
            "checkout.session.completed",
            {"status": "complete", "payment_status": "unpaid"},  # a bank debit still on its way
            "open",
        ),
        ("checkout.session.expired", {"status": "expired", "payment_status": "unpaid"}, "expired"),
    ],
)
def test_checkout_sessions_are_collections(
    event_type: str, session: dict[str, str], status: str
) -> None:
    obj = {
        "id": "cs_test_a1b2c3",
        "object": "checkout.session",
        "url": None,
        "metadata": {"returndesk_exchange": "exc_4RT"},
        **session,
    }
    body, header = webhook(event_type, obj)
    event = stripe_event(body, header, SECRET)
    assert event.collection is not None
    assert (event.collection.reference, event.collection.status) == ("cs_test_a1b2c3", status)
    assert event.metadata == {"returndesk_exchange": "exc_4RT"}
    assert event.refunds == ()


def test_other_events_are_acknowledged_unread() -> None:
    event = fixture("event")  # Stripe's own fixture: plan.created
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    read = stripe_event(body.encode(), header, SECRET)
    assert (read.event_id, read.type, read.handled) == (event["id"], "plan.created", False)


def test_a_tampered_body_is_refused() -> None:
    body, header = webhook("refund.updated", refund_object(amount=100))
    tampered = body.replace(b'"amount": 100', b'"amount": 900')
    assert tampered != body
    with pytest.raises(WebhookSignatureInvalid):
        stripe_event(tampered, header, SECRET)


@pytest.mark.parametrize(
    ("header_from", "secret"),
    [
        ("other_secret", SECRET),  # signed with another endpoint's secret
        ("empty", SECRET),  # no Stripe-Signature header
        ("valid", ""),  # no secret configured: refuse rather than accept unsigned
        ("stale", SECRET),  # a replay from long ago
    ],
)
def test_bad_signatures_are_refused(header_from: str, secret: str) -> None:
    signing: dict[str, Any] = {}
    signing_secret = SECRET
    if header_from == "other_secret":
        signing_secret = "whsec_someone_else"
    if header_from == "stale":
        signing["timestamp"] = int(time.time()) - 3600
    body, header = webhook("refund.updated", refund_object(), secret=signing_secret, **signing)
    if header_from == "empty":
        header = ""
    with pytest.raises(WebhookSignatureInvalid):
        stripe_event(body, header, secret)


def test_a_signed_body_that_is_not_an_event_is_a_value_error() -> None:
    body = b'{"object": "refund"}'
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    with pytest.raises(ValueError, match="not an event"):
        stripe_event(body, header, SECRET)


def test_the_replay_server_settles_a_pending_refund_by_webhook(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(5000, "USD", refund_status="pending")
    adapter = provider_for("stripe", stripe_server.credentials, stripe_server.url)
    outcome = adapter.refund(RefundOrder("rfd_9PEND", "k-9", 5000, "USD", charge))
    assert outcome.status == "pending"
    sent = stripe_server.settle(outcome.reference, "succeeded")
    secret = stripe_server.credentials["webhook_secret"]
    event = stripe_event(sent["body"].encode(), sent["signature"], secret)
    assert event.type == "refund.updated"
    assert (event.refund_ids, event.references) == (("rfd_9PEND",), (outcome.reference,))
    assert event.refunds[0].status == "succeeded"
    failed = stripe_server.settle(outcome.reference, "failed", "insufficient_funds")
    event = stripe_event(failed["body"].encode(), failed["signature"], secret)
    assert (event.type, event.refunds[0].status, event.refunds[0].message) == (
        "refund.failed",
        "failed",
        "insufficient_funds",
    )


def test_the_replay_server_completes_a_collection_by_webhook(stripe_server: ServerHandle) -> None:
    adapter = provider_for("stripe", stripe_server.credentials, stripe_server.url)
    collection = adapter.collect(
        amount=700,
        currency="USD",
        description="difference",
        idempotency_key="c-1",
        metadata={"returndesk_exchange": "exc_1"},
    )
    paid = stripe_server.checkout(collection.reference, "pay")
    secret = stripe_server.credentials["webhook_secret"]
    event = stripe_event(paid["body"].encode(), paid["signature"], secret)
    assert event.collection is not None
    assert (event.collection.reference, event.collection.status) == (collection.reference, "paid")
    assert event.metadata == {"returndesk_exchange": "exc_1"}
