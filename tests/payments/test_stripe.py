"""The Stripe adapter end to end through the official `stripe` library, against the replay
server (servers.py), which answers with the shapes of Stripe's fixtures in
../shared/data/payloads/stripe. Nothing mocks the library: it builds the requests, sends the
idempotency key and parses the answers and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from returndesk.refunds.providers import ProviderError
from tests.payments.conftest import adapter, refund_order
from tests.payments.servers import ServerHandle, stripe_files


def api_requests(server: ServerHandle, path: str = "/v1/refunds") -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["path"] == path]


def test_a_charge_is_refunded_with_our_id_and_the_key(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    outcome = adapter(stripe_server).refund(refund_order(charge))
    [created] = stripe_server.ledger()
    assert (outcome.status, outcome.reference, outcome.message) == ("succeeded", created["id"], "")
    assert outcome.reference.startswith("re_")
    [sent] = api_requests(stripe_server)
    assert sent["idempotency_key"] == "refund-rfd_7QK2M"
    assert sent["body"] == {
        "charge": charge,
        "amount": "1234",
        "metadata": {"returndesk_refund": "rfd_7QK2M"},
        "reason": "requested_by_customer",
    }
    # the attempt log gets Stripe's whole refund, shaped like its fixture
    fixture = json.loads(stripe_files(Path(settings.RETURNDESK_DATA_DIR))["refund"].read_text())
    assert set(fixture) <= set(outcome.raw)
    assert outcome.raw["metadata"] == {"returndesk_refund": "rfd_7QK2M"}
    json.dumps(outcome.raw)  # JSON-able as it is


def test_a_payment_intent_is_refunded_through_it(stripe_server: ServerHandle) -> None:
    intent = stripe_server.payment(10_000, "USD", reference="pi_3QexampleIntent")
    outcome = adapter(stripe_server).refund(refund_order(intent, reason="changed_mind"))
    assert outcome.status == "succeeded"
    assert outcome.raw["payment_intent"] == intent
    [sent] = api_requests(stripe_server)
    assert sent["body"]["payment_intent"] == intent
    assert "charge" not in sent["body"]
    assert "reason" not in sent["body"]  # Stripe takes three reasons only; ours stays ours


def test_zero_decimal_currencies_go_as_they_are(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(12_000, "JPY")
    outcome = adapter(stripe_server).refund(refund_order(charge, amount=1500, currency="JPY"))
    assert (outcome.raw["amount"], outcome.raw["currency"]) == (1500, "jpy")


@pytest.mark.parametrize("stripe_status", ["pending", "requires_action"])
def test_a_refund_stripe_has_not_settled_is_pending(
    stripe_server: ServerHandle, stripe_status: str
) -> None:
    charge = stripe_server.payment(10_000, "USD", refund_status=stripe_status)
    outcome = adapter(stripe_server).refund(refund_order(charge))
    assert (outcome.status, outcome.message) == ("pending", "")
    assert outcome.reference == stripe_server.ledger()[0]["id"]


def test_a_refund_stripe_answers_failed_is_failed_with_its_reason(
    stripe_server: ServerHandle,
) -> None:
    charge = stripe_server.payment(10_000, "USD", refund_status="failed")
    outcome = adapter(stripe_server).refund(refund_order(charge))
    assert (outcome.status, outcome.message) == ("failed", "expired_or_canceled_card")
    assert outcome.reference.startswith("re_")


def test_a_retry_with_the_same_key_gets_the_same_refund(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    provider = adapter(stripe_server)
    first = provider.refund(refund_order(charge))
    again = adapter(stripe_server).refund(refund_order(charge))  # another worker, same refund
    assert again.reference == first.reference
    assert len(stripe_server.ledger()) == 1


def test_a_500_is_retryable_and_the_retry_refunds_once(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    stripe_server.fault("error", status=500)
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server).refund(refund_order(charge))
    assert failure.value.retryable
    assert failure.value.status == 500
    assert stripe_server.ledger() == []
    outcome = adapter(stripe_server).refund(refund_order(charge))
    assert outcome.status == "succeeded"
    assert [e["id"] for e in stripe_server.ledger()] == [outcome.reference]


@pytest.mark.parametrize("mode", ["drop", "error"])
def test_an_answer_lost_after_the_refund_is_found_again_by_the_key(
    stripe_server: ServerHandle, mode: str
) -> None:
    charge = stripe_server.payment(10_000, "USD")
    stripe_server.fault(mode, after=True)
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server).refund(refund_order(charge))
    assert failure.value.retryable
    [made] = stripe_server.ledger()  # Stripe did refund; we did not hear it
    outcome = adapter(stripe_server).refund(refund_order(charge))
    assert outcome.reference == made["id"]
    assert len(stripe_server.ledger()) == 1


def test_no_answer_within_the_timeout_is_retryable(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    stripe_server.fault("delay", seconds=1.5)
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server, timeout=0.3).refund(refund_order(charge))
    assert failure.value.retryable
    assert "could not be reached" in str(failure.value)


@pytest.mark.parametrize("status", [409, 429, 502, 503])
def test_conflicts_rate_limits_and_outages_are_retryable(
    stripe_server: ServerHandle, status: int
) -> None:
    charge = stripe_server.payment(10_000, "USD")
    stripe_server.fault("error", status=status)
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server).refund(refund_order(charge))
    assert (failure.value.retryable, failure.value.status) == (True, status)


def test_a_refused_key_is_not_retryable_and_not_repeated(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    wrong = "sk_test_51WrongKeyWrongKeyWrongKey"
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server, credentials={"secret_key": wrong}).refund(refund_order(charge))
    assert (failure.value.retryable, failure.value.status) == (False, 401)
    assert wrong not in str(failure.value)
    assert wrong not in repr(adapter(stripe_server, credentials={"secret_key": wrong}))
    assert stripe_server.ledger() == []


def test_a_key_reused_for_another_amount_is_not_retryable(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(10_000, "USD")
    adapter(stripe_server).refund(refund_order(charge))
    with pytest.raises(ProviderError) as failure:
        adapter(stripe_server).refund(refund_order(charge, amount=3000))
    assert not failure.value.retryable
    assert "idempotency key" in str(failure.value)
    assert len(stripe_server.ledger()) == 1


def test_refunding_past_the_charge_fails_with_stripes_message(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(4000, "USD")
    provider = adapter(stripe_server)
    assert provider.refund(refund_order(charge, amount=3000)).status == "succeeded"
    too_much = provider.refund(refund_order(charge, amount=2000, idempotency_key="refund-2"))
    assert too_much.status == "failed"
    assert "greater than unrefunded amount" in too_much.message
    assert too_much.raw["error"]["param"] == "amount"
    assert provider.refund(
        refund_order(charge, amount=1000, idempotency_key="refund-3")
    ).status == ("succeeded")
    again = provider.refund(refund_order(charge, amount=1, idempotency_key="refund-4"))
    assert (again.status, again.reference) == ("failed", "")
    assert again.message == f"Charge {charge} has already been refunded."
    assert again.raw["error"]["code"] == "charge_already_refunded"
    assert len(stripe_server.ledger()) == 2


def test_an_unknown_charge_fails(stripe_server: ServerHandle) -> None:
    outcome = adapter(stripe_server).refund(refund_order("ch_3NotAChargeOfOurs"))
    assert outcome.status == "failed"
    assert "No such charge" in outcome.message


def test_a_reference_that_is_not_stripes_fails_without_a_call(stripe_server: ServerHandle) -> None:
    outcome = adapter(stripe_server).refund(refund_order("8MC585209K746392H"))
    assert outcome.status == "failed"
    assert "not a Stripe charge" in outcome.message
    assert stripe_server.requests() == []


def test_collect_opens_a_checkout_session_the_shopper_pays(stripe_server: ServerHandle) -> None:
    provider = adapter(stripe_server)
    metadata = {"returndesk_exchange": "exc_4RT", "ran": "RKQ4M2XD9TPHD"}
    kwargs: dict[str, Any] = {
        "amount": 1599,
        "currency": "EUR",
        "description": "Exchange RKQ4M2XD9TPHD: price difference",
        "idempotency_key": "collect-exc_4RT",
        "metadata": metadata,
    }
    collection = provider.collect(**kwargs)
    assert collection.status == "open"
    assert collection.reference.startswith("cs_")
    assert collection.url.endswith(collection.reference)
    assert provider.collect(**kwargs) == collection  # the same key, the same session
    [made] = stripe_server.ledger("collection")
    assert (made["id"], made["amount"], made["currency"]) == (collection.reference, 1599, "EUR")
    assert made["metadata"] == metadata
    sent = api_requests(stripe_server, "/v1/checkout/sessions")[0]
    assert sent["idempotency_key"] == "collect-exc_4RT"
    assert sent["body"]["mode"] == "payment"
    assert sent["body"]["payment_intent_data"] == {"metadata": metadata}
    assert sent["body"]["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "1599",
                "product_data": {"name": "Exchange RKQ4M2XD9TPHD: price difference"},
            },
        }
    ]


def test_collect_errors_are_provider_errors(stripe_server: ServerHandle) -> None:
    stripe_server.fault("error", status=503)
    provider = adapter(stripe_server)
    kwargs: dict[str, Any] = {
        "amount": 1599,
        "currency": "EUR",
        "description": "difference",
        "idempotency_key": "collect-1",
        "metadata": {},
    }
    with pytest.raises(ProviderError) as failure:
        provider.collect(**kwargs)
    assert failure.value.retryable
    with pytest.raises(ProviderError) as refused:
        adapter(stripe_server, credentials={"secret_key": "sk_test_other"}).collect(**kwargs)
    assert not refused.value.retryable
