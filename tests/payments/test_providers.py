"""`provider_for` and the built-in manual provider, which needs no outside service."""

from __future__ import annotations

import pytest

from returndesk.refunds.providers import (
    CollectionUnsupported,
    ProviderError,
    RefundOrder,
    provider_for,
)
from returndesk.refunds.providers.manual import ManualProvider
from returndesk.refunds.providers.paypal import PayPalProvider
from returndesk.refunds.providers.stripe import StripeProvider

ORDER = RefundOrder("rfd_7QK2M", "refund-rfd_7QK2M", 2500, "USD", "")


def test_a_manual_refund_waits_for_finance() -> None:
    provider = provider_for("manual", {})
    assert isinstance(provider, ManualProvider)
    outcome = provider.refund(ORDER)
    assert (outcome.status, outcome.reference, outcome.message) == ("pending", "", "")
    assert provider.refund(ORDER) == outcome  # nothing happens twice: nothing happens


def test_manual_collects_nothing() -> None:
    with pytest.raises(CollectionUnsupported):
        provider_for("manual", {}).collect(
            amount=500, currency="USD", description="d", idempotency_key="k", metadata={}
        )


def test_each_name_gets_its_adapter() -> None:
    stripe = provider_for("stripe", {"secret_key": "sk_test_1", "webhook_secret": "whsec_1"})
    paypal = provider_for("paypal", {"client_id": "id", "client_secret": "s"}, "http://x")
    assert isinstance(stripe, StripeProvider)
    assert (stripe.name, stripe.webhook_secret, stripe.api_base) == ("stripe", "whsec_1", None)
    assert isinstance(paypal, PayPalProvider)
    assert (paypal.name, paypal.environment, paypal.api_base) == ("paypal", "sandbox", "http://x")


def test_an_unknown_provider_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown payment provider 'adyen'"):
        provider_for("adyen", {})


@pytest.mark.parametrize(
    ("name", "credentials", "missing"),
    [
        ("stripe", {"webhook_secret": "whsec_1"}, "secret_key"),
        ("paypal", {"client_id": "id", "client_secret": ""}, "client_secret"),
        ("paypal", {}, "client_id, client_secret"),
    ],
)
def test_missing_credentials_are_a_recorded_non_retryable_error(
    name: str, credentials: dict[str, str], missing: str
) -> None:
    with pytest.raises(ProviderError) as failure:
        provider_for(name, credentials)
    assert not failure.value.retryable
    assert str(failure.value) == f"{name} is not configured for this merchant: {missing} missing"


def test_a_paypal_environment_is_sandbox_or_live() -> None:
    with pytest.raises(ProviderError, match="'sandbox' or 'live'"):
        provider_for("paypal", {"client_id": "i", "client_secret": "s", "environment": "prod"})
