"""Stripe, through its official `stripe` library: refunds, Checkout collections, webhooks.

Each call builds its own `stripe.StripeClient` with the merchant's secret key (merchants have
different keys, so nothing touches the library's module globals). The library's own retries are
off by default: the refund worker retries with the same idempotency key, so every attempt is a
visible row. Stripe keeps an idempotency key for 24 hours; a retry later than that is no longer
protected by it (docs/payments.md).

Errors: no answer (network, timeout), 409, 429 (rate limit, lock_timeout) and 5xx are retryable
`ProviderError`s; refused credentials and a key reused with other parameters are non-retryable
ones; Stripe's definitive refusals of the refund itself (400/402/404: already refunded, amount
above what is left, no such charge) are a `failed` outcome with Stripe's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import stripe

from returndesk.refunds.providers.base import (
    Collection,
    CollectionStatus,
    ProviderError,
    RefundOrder,
    RefundOutcome,
    RefundStatus,
    WebhookSignatureInvalid,
)

__all__ = [
    "METADATA_KEY",
    "StripeProvider",
    "StripeRefundEvent",
    "StripeRefundUpdate",
    "stripe_event",
]

METADATA_KEY = "returndesk_refund"  # our refund id in the Stripe refund's metadata
DEFAULT_TIMEOUT = 30.0
# Stripe's refund statuses; requires_action waits on the customer and settles by webhook.
STATUSES: dict[str, RefundStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}
REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})  # Stripe takes no other
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
CHARGE_EVENTS = frozenset({"charge.refunded", "charge.refund.updated"})
CHECKOUT_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)


def _target(reference: str) -> dict[str, str] | None:
    if reference.startswith("pi_"):
        return {"payment_intent": reference}
    if reference.startswith(("ch_", "py_")):
        return {"charge": reference}
    return None


def _status(data: Mapping[str, Any]) -> RefundStatus:
    # An unknown status is still a refund Stripe holds: pending until a webhook settles it.
    return STATUSES.get(str(data.get("status") or ""), "pending")


def _failure_message(data: Mapping[str, Any]) -> str:
    status = str(data.get("status") or "")
    if status not in ("failed", "canceled"):
        return ""
    return str(data.get("failure_reason") or status)


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body
    return json.loads(json.dumps(body)) if isinstance(body, Mapping) else {}


def _should_retry_header(exc: stripe.StripeError) -> bool | None:
    headers = exc.headers or {}
    value = next((v for k, v in headers.items() if k.lower() == "stripe-should-retry"), None)
    return None if value is None else value == "true"


def _provider_error(exc: stripe.StripeError) -> ProviderError:
    """A Stripe error that is not a definitive refusal of the request itself."""
    status = exc.http_status
    detail = exc.user_message or str(exc) or type(exc).__name__
    raw = _error_body(exc)
    if isinstance(exc, stripe.APIConnectionError):
        # the library's message ends with the network error itself, in parentheses
        cause = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return ProviderError(f"Stripe could not be reached: {cause}", retryable=True, raw=raw)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(
            f"Stripe refused the merchant's key ({status}): {detail}",
            retryable=False,
            status=status,
            raw=raw,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return ProviderError(
            f"Stripe refused the idempotency key: {detail}", retryable=False, status=status, raw=raw
        )
    header = _should_retry_header(exc)
    retryable = header if header is not None else True
    return ProviderError(
        f"Stripe error ({status or 'no status'}): {detail}",
        retryable=retryable,
        status=status,
        raw=raw,
    )


def _is_refusal(exc: stripe.StripeError) -> bool:
    """Stripe answered that it will not do this (400/402/404), as opposed to not answering."""
    return isinstance(exc, stripe.CardError | stripe.InvalidRequestError) and not isinstance(
        exc, stripe.IdempotencyError
    )


def _collection_status(data: Mapping[str, Any]) -> CollectionStatus:
    status = data.get("status")
    if status == "expired":
        return "expired"
    if status == "complete" and data.get("payment_status") in ("paid", "no_payment_required"):
        return "paid"
    return "open"


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str = "",
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_network_retries: int = 0,
    ) -> None:
        self._secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base
        self.timeout = timeout
        self.max_network_retries = max_network_retries

    def __repr__(self) -> str:  # never show the key
        return f"StripeProvider(api_base={self.api_base!r})"

    def _client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self._secret_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            http_client=stripe.RequestsClient(timeout=self.timeout),
            max_network_retries=self.max_network_retries,
        )

    def refund(self, order: RefundOrder) -> RefundOutcome:
        target = _target(order.payment_reference)
        if target is None:
            return RefundOutcome(
                status="failed",
                reference="",
                message=f"'{order.payment_reference}' is not a Stripe charge (ch_) or "
                "payment intent (pi_)",
            )
        params: dict[str, Any] = {
            **target,
            "amount": order.amount,
            "metadata": {METADATA_KEY: order.refund_id},
        }
        if order.reason in REASONS:
            params["reason"] = order.reason
        try:
            refund = self._client().v1.refunds.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": order.idempotency_key},
            )
        except stripe.StripeError as exc:
            if _is_refusal(exc):
                return RefundOutcome(
                    status="failed",
                    reference="",
                    message=exc.user_message or str(exc),
                    raw=_error_body(exc),
                )
            raise _provider_error(exc) from None
        data = refund.to_dict(for_json=True)
        return RefundOutcome(
            status=_status(data),
            reference=str(data.get("id") or ""),
            message=_failure_message(data),
            raw=data,
        )

    def collect(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Collection:
        """A Checkout Session in payment mode: the shopper pays at its `url` (it expires after
        24 hours); its metadata (and its payment intent's) carry `metadata`."""
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount,
                        "product_data": {"name": description},
                    },
                }
            ],
            "metadata": dict(metadata),
            "payment_intent_data": {"metadata": dict(metadata)},
        }
        try:
            session = self._client().v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            if _is_refusal(exc):
                raise ProviderError(
                    f"Stripe refused the payment request: {exc.user_message or exc}",
                    retryable=False,
                    status=exc.http_status,
                    raw=_error_body(exc),
                ) from None
            raise _provider_error(exc) from None
        data = session.to_dict(for_json=True)
        return Collection(
            reference=str(data.get("id") or ""),
            url=str(data.get("url") or ""),
            status=_collection_status(data),
        )


@dataclass(frozen=True)
class StripeRefundUpdate:
    """One refund as a webhook shows it."""

    reference: str  # Stripe's refund id "re_..."
    refund_id: str  # ours, from the refund's metadata; "" for a refund made elsewhere
    status: RefundStatus
    message: str = ""  # Stripe's failure_reason when failed
    amount: int = 0
    currency: str = ""  # upper case
    charge: str = ""
    payment_intent: str = ""


@dataclass(frozen=True)
class StripeRefundEvent:
    """A verified Stripe event, read for what refunds and collections need.

    `handled` is False for a type this module does not read (acknowledge it and move on).
    `refunds`: one for refund.* events; for charge.refunded, the refunds the charge lists
    (recent API versions list none unless expanded, so rely on refund.updated/refund.failed).
    `collection` and `metadata`: for checkout.session.* events.
    """

    event_id: str
    type: str
    handled: bool
    refunds: tuple[StripeRefundUpdate, ...] = ()
    charge: str = ""
    collection: Collection | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    livemode: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r.reference for r in self.refunds)

    @property
    def refund_ids(self) -> tuple[str, ...]:
        return tuple(r.refund_id for r in self.refunds if r.refund_id)


def _refund_update(data: Mapping[str, Any], event_type: str) -> StripeRefundUpdate:
    metadata = data.get("metadata") or {}
    status = "failed" if event_type == "refund.failed" else _status(data)
    message = _failure_message(data) or (str(data.get("failure_reason") or "failed"))
    return StripeRefundUpdate(
        reference=str(data.get("id") or ""),
        refund_id=str(metadata.get(METADATA_KEY) or ""),
        status=status,
        message=message if status == "failed" else "",
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").upper(),
        charge=str(data.get("charge") or ""),
        payment_intent=str(data.get("payment_intent") or ""),
    )


def stripe_event(
    body: bytes, signature_header: str, secret: str, *, tolerance: int = 300
) -> StripeRefundEvent:
    """Check a webhook's `Stripe-Signature` with the library and read the event.

    Raises WebhookSignatureInvalid for a missing secret, a missing, wrong or stale signature
    (older than `tolerance` seconds), and ValueError for a signed body that is not an event.
    """
    if not secret:
        raise WebhookSignatureInvalid("no Stripe webhook secret is configured")
    try:
        stripe.WebhookSignature.verify_header(body, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(f"Stripe signature refused: {exc.user_message}") from None
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"a signed Stripe webhook that is not JSON: {exc}") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise ValueError("a signed Stripe webhook that is not an event")
    event_type = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    common: dict[str, Any] = {
        "event_id": str(event.get("id") or ""),
        "type": event_type,
        "livemode": bool(event.get("livemode")),
        "raw": event,
    }
    if event_type in REFUND_EVENTS:
        update = _refund_update(obj, event_type)
        return StripeRefundEvent(handled=True, refunds=(update,), charge=update.charge, **common)
    if event_type in CHARGE_EVENTS and obj.get("object") == "refund":
        # charge.refund.updated (older API versions) carries the refund itself.
        update = _refund_update(obj, event_type)
        return StripeRefundEvent(handled=True, refunds=(update,), charge=update.charge, **common)
    if event_type in CHARGE_EVENTS:
        listed = ((obj.get("refunds") or {}).get("data")) or []
        return StripeRefundEvent(
            handled=True,
            refunds=tuple(_refund_update(r, event_type) for r in listed),
            charge=str(obj.get("id") or ""),
            **common,
        )
    if event_type in CHECKOUT_EVENTS:
        collection = Collection(
            reference=str(obj.get("id") or ""),
            url=str(obj.get("url") or ""),
            status=_collection_status(obj),
        )
        metadata = {str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}
        return StripeRefundEvent(handled=True, collection=collection, metadata=metadata, **common)
    return StripeRefundEvent(handled=False, **common)
