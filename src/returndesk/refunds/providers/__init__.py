"""Payment providers: `base` is the interface; `manual`, `stripe` and `paypal` implement it.

Pure: no Django (import-linter's "Pure modules import no Django"). The caller passes the
merchant's decrypted credentials and, in tests, the replay server's base URL
(settings.RETURNDESK_STRIPE_API_BASE / RETURNDESK_PAYPAL_API_BASE). docs/payments.md.

    provider = provider_for("stripe", {"secret_key": ..., "webhook_secret": ...})
    outcome = provider.refund(RefundOrder(...))
"""

from __future__ import annotations

from collections.abc import Mapping

from returndesk.refunds.providers.base import (
    Collection,
    CollectionUnsupported,
    PaymentProvider,
    ProviderError,
    RefundOrder,
    RefundOutcome,
    WebhookSignatureInvalid,
)

__all__ = [
    "CREDENTIALS",
    "PROVIDERS",
    "Collection",
    "CollectionUnsupported",
    "PaymentProvider",
    "ProviderError",
    "RefundOrder",
    "RefundOutcome",
    "WebhookSignatureInvalid",
    "provider_for",
]

PROVIDERS: tuple[str, ...] = ("manual", "stripe", "paypal")
# The credential keys each provider needs (all strings); paypal's environment is optional
# ("sandbox" by default, or "live"), as is stripe's webhook_secret for refunds alone.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "manual": (),
    "stripe": ("secret_key",),
    "paypal": ("client_id", "client_secret"),
}
DEFAULT_TIMEOUT = 30.0


def provider_for(
    name: str,
    credentials: Mapping[str, str],
    api_base: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> PaymentProvider:
    """The adapter for `name` with the merchant's credentials.

    `api_base` replaces the provider's service URL (a replay server); None is the real one.
    An unknown name is a ValueError (a programming error); missing credentials are a
    non-retryable ProviderError, so the refund attempt records them as its failure.
    """
    if name not in CREDENTIALS:
        raise ValueError(f"unknown payment provider {name!r}; known: {', '.join(PROVIDERS)}")
    missing = [key for key in CREDENTIALS[name] if not credentials.get(key)]
    if missing:
        raise ProviderError(
            f"{name} is not configured for this merchant: {', '.join(missing)} missing",
            retryable=False,
        )
    if name == "stripe":
        from returndesk.refunds.providers.stripe import StripeProvider

        return StripeProvider(
            secret_key=credentials["secret_key"],
            webhook_secret=credentials.get("webhook_secret", ""),
            api_base=api_base,
            timeout=timeout,
        )
    if name == "paypal":
        from returndesk.refunds.providers.paypal import PayPalProvider

        environment = credentials.get("environment") or "sandbox"
        if environment not in ("sandbox", "live"):
            raise ProviderError(
                f"paypal environment is 'sandbox' or 'live', not {environment!r}",
                retryable=False,
            )
        return PayPalProvider(
            client_id=credentials["client_id"],
            client_secret=credentials["client_secret"],
            environment=environment,
            api_base=api_base,
            timeout=timeout,
        )
    from returndesk.refunds.providers.manual import ManualProvider

    return ManualProvider()
