"""The PayPal adapter end to end through the official `paypal-server-sdk`, against the replay
server (servers.py), whose bodies follow PayPal's Payments v2 OpenAPI document in
../shared/data/payloads/paypal: the refund schema, the error schemas and their issues. The SDK
fetches the OAuth token, sends PayPal-Request-Id and parses the answers; nothing is mocked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from returndesk.core.money import MoneyError
from returndesk.refunds.providers import (
    CollectionUnsupported,
    ProviderError,
    provider_for,
)
from returndesk.refunds.providers.paypal import PayPalProvider, paypal_value
from tests.payments.conftest import adapter, refund_order
from tests.payments.servers import ServerHandle, paypal_files

REFUND_PATH = r"/v2/payments/captures/[^/]+/refund"


def refund_calls(server: ServerHandle) -> list[dict[str, Any]]:
    return [r for r in server.requests() if r["path"].endswith("/refund")]


def schema_properties(name: str) -> set[str]:
    """A schema's property names, through allOf and $ref, from PayPal's OpenAPI document."""
    spec = json.loads(paypal_files(Path(settings.RETURNDESK_DATA_DIR))["openapi"].read_text())
    schemas = spec["components"]["schemas"]

    def walk(schema: dict[str, Any]) -> set[str]:
        if "$ref" in schema:
            return walk(schemas[schema["$ref"].rsplit("/", 1)[-1]])
        found = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            found |= walk(part)
        return found

    return walk(schemas[name])


def test_a_capture_is_refunded_with_our_id_and_the_request_id(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    outcome = adapter(paypal_server).refund(refund_order(capture))
    [made] = paypal_server.ledger()
    assert (outcome.status, outcome.reference, outcome.message) == ("succeeded", made["id"], "")
    [sent] = refund_calls(paypal_server)
    assert sent["path"] == f"/v2/payments/captures/{capture}/refund"
    assert sent["idempotency_key"] == "refund-rfd_7QK2M"
    assert sent["body"] == {
        "amount": {"currency_code": "USD", "value": "12.34"},
        "custom_id": "rfd_7QK2M",
        "invoice_id": "rfd_7QK2M",
        "note_to_payer": "requested_by_customer",
    }
    # the whole refund (Prefer: return=representation), in the OpenAPI document's shape
    assert set(outcome.raw) <= schema_properties("refund")
    assert outcome.raw["amount"] == {"currency_code": "USD", "value": "12.34"}
    assert outcome.raw["custom_id"] == "rfd_7QK2M"


@pytest.mark.parametrize(
    ("amount", "currency", "value"),
    [
        (1234, "USD", "12.34"),
        (5, "EUR", "0.05"),
        (1500, "JPY", "1500"),  # no minor unit
        (150_000, "TWD", "1500"),  # two decimals here; PayPal takes none
        (1234, "KWD", "1.234"),  # three decimals
    ],
)
def test_amounts_are_decimal_strings_in_the_currencys_exponent(
    paypal_server: ServerHandle, amount: int, currency: str, value: str
) -> None:
    assert paypal_value(amount, currency) == value
    capture = paypal_server.payment(amount * 2, currency)
    outcome = adapter(paypal_server).refund(refund_order(capture, amount=amount, currency=currency))
    assert outcome.status == "succeeded"
    assert outcome.raw["amount"] == {"currency_code": currency, "value": value}
    assert paypal_server.ledger()[0]["amount"] == amount


def test_a_fraction_paypal_cannot_take_fails_without_a_call(paypal_server: ServerHandle) -> None:
    with pytest.raises(MoneyError):
        paypal_value(150_050, "TWD")
    capture = paypal_server.payment(500_000, "TWD")
    outcome = adapter(paypal_server).refund(refund_order(capture, amount=150_050, currency="TWD"))
    assert (outcome.status, outcome.reference) == ("failed", "")
    assert "whole TWD" in outcome.message
    assert paypal_server.requests() == []


def test_a_refund_paypal_has_not_settled_is_pending(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD", refund_status="PENDING")
    outcome = adapter(paypal_server).refund(refund_order(capture))
    assert (outcome.status, outcome.message) == ("pending", "")
    assert outcome.raw["status_details"] == {"reason": "ECHECK"}


@pytest.mark.parametrize("paypal_status", ["FAILED", "CANCELLED"])
def test_refunds_paypal_answers_failed_or_cancelled_are_failed(
    paypal_server: ServerHandle, paypal_status: str
) -> None:
    capture = paypal_server.payment(5000, "USD", refund_status=paypal_status)
    outcome = adapter(paypal_server).refund(refund_order(capture))
    assert outcome.status == "failed"
    assert outcome.message in ("echeck", "ECHECK", "cancelled")
    assert outcome.reference


def test_a_retry_with_the_same_request_id_gets_the_same_refund(
    paypal_server: ServerHandle,
) -> None:
    capture = paypal_server.payment(5000, "USD")
    first = adapter(paypal_server).refund(refund_order(capture))
    again = adapter(paypal_server).refund(refund_order(capture))
    assert again.reference == first.reference
    assert again.raw == first.raw
    assert len(paypal_server.ledger()) == 1


def test_one_adapter_fetches_one_token(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    provider = adapter(paypal_server)
    provider.refund(refund_order(capture, amount=100, idempotency_key="a", refund_id="rfd_a"))
    provider.refund(refund_order(capture, amount=100, idempotency_key="b", refund_id="rfd_b"))
    tokens = [r for r in paypal_server.requests() if r["path"] == "/v1/oauth2/token"]
    assert len(tokens) == 1
    assert tokens[0]["body"] == {"grant_type": "client_credentials"}
    assert len(paypal_server.ledger()) == 2


def test_a_500_is_retryable_and_the_retry_refunds_once(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    paypal_server.fault("error", status=500, path=REFUND_PATH)
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server).refund(refund_order(capture))
    assert (failure.value.retryable, failure.value.status) == (True, 500)
    assert paypal_server.ledger() == []
    outcome = adapter(paypal_server).refund(refund_order(capture))
    assert [e["id"] for e in paypal_server.ledger()] == [outcome.reference]


def test_an_answer_lost_after_the_refund_is_found_again(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    paypal_server.fault("drop", after=True, path=REFUND_PATH)
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server).refund(refund_order(capture))
    assert failure.value.retryable
    [made] = paypal_server.ledger()
    assert adapter(paypal_server).refund(refund_order(capture)).reference == made["id"]
    assert len(paypal_server.ledger()) == 1


@pytest.mark.parametrize("status", [409, 429, 503])
def test_conflicts_rate_limits_and_outages_are_retryable(
    paypal_server: ServerHandle, status: int
) -> None:
    capture = paypal_server.payment(5000, "USD")
    paypal_server.fault("error", status=status, path=REFUND_PATH)
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server).refund(refund_order(capture))
    assert (failure.value.retryable, failure.value.status) == (True, status)


def test_a_token_endpoint_outage_is_retryable(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    paypal_server.fault("error", status=503, path="/v1/oauth2/token")
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server).refund(refund_order(capture))
    assert failure.value.retryable
    assert refund_calls(paypal_server) == []
    assert adapter(paypal_server).refund(refund_order(capture)).status == "succeeded"


def test_no_answer_is_retryable(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    paypal_server.fault("delay", seconds=1.5, path=REFUND_PATH)
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server, timeout=0.3).refund(refund_order(capture))
    assert failure.value.retryable


def test_refused_credentials_are_not_retryable(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    wrong = {"client_secret": "EHf3-not-the-secret"}
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server, credentials=wrong).refund(refund_order(capture))
    assert (failure.value.retryable, failure.value.status) == (False, 401)
    assert "EHf3-not-the-secret" not in str(failure.value)
    assert "EHf3-not-the-secret" not in repr(adapter(paypal_server, credentials=wrong))
    assert refund_calls(paypal_server) == []


def test_refunding_past_the_capture_fails_with_paypals_issue(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(3000, "USD")
    provider = adapter(paypal_server)
    too_much = provider.refund(refund_order(capture, amount=3001))
    assert (too_much.status, too_much.reference) == ("failed", "")
    assert too_much.message.startswith("REFUND_AMOUNT_EXCEEDED: The refund amount must be")
    assert too_much.raw["name"] == "UNPROCESSABLE_ENTITY"
    all_of_it = provider.refund(
        refund_order(capture, amount=3000, idempotency_key="k2", refund_id="r2")
    )
    assert all_of_it.status == "succeeded"
    again = provider.refund(refund_order(capture, amount=1, idempotency_key="k3", refund_id="r3"))
    assert again.status == "failed"
    assert again.message == "CAPTURE_FULLY_REFUNDED: The capture has already been fully refunded"
    assert len(paypal_server.ledger()) == 1


def test_an_unknown_capture_fails(paypal_server: ServerHandle) -> None:
    outcome = adapter(paypal_server).refund(refund_order("0TG49836CM4291234"))
    assert outcome.status == "failed"
    assert outcome.message.startswith("INVALID_RESOURCE_ID")


def test_a_currency_other_than_the_captures_fails(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    outcome = adapter(paypal_server).refund(refund_order(capture, currency="EUR"))
    assert outcome.status == "failed"
    assert outcome.message.startswith("REFUND_CAPTURE_CURRENCY_MISMATCH")


def test_a_second_refund_under_our_id_is_a_provider_error_not_a_failure(
    paypal_server: ServerHandle,
) -> None:
    """After PayPal forgot the request id (45 days), the invoice id still stops a double refund;
    that is no failure to pay again by hand, but a refund to reconcile."""
    capture = paypal_server.payment(5000, "USD")
    adapter(paypal_server).refund(refund_order(capture, amount=1000))
    with pytest.raises(ProviderError) as failure:
        adapter(paypal_server).refund(refund_order(capture, amount=1000, idempotency_key="new-key"))
    assert not failure.value.retryable
    assert "DUPLICATE_INVOICE_ID" in str(failure.value)
    assert len(paypal_server.ledger()) == 1


def test_paypal_collects_nothing(paypal_server: ServerHandle) -> None:
    with pytest.raises(CollectionUnsupported):
        adapter(paypal_server).collect(
            amount=500, currency="USD", description="d", idempotency_key="k", metadata={}
        )


def test_the_environment_chooses_paypals_service() -> None:
    credentials = {"client_id": "id", "client_secret": "secret"}
    live = provider_for("paypal", {**credentials, "environment": "live"})
    sandbox = provider_for("paypal", credentials)
    assert isinstance(live, PayPalProvider)
    assert isinstance(sandbox, PayPalProvider)
    assert live._client().config.get_base_uri() == "https://api-m.paypal.com"
    assert sandbox._client().config.get_base_uri() == "https://api-m.sandbox.paypal.com"
