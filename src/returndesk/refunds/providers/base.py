"""The payment provider interface: what refund execution asks of Stripe, PayPal or finance.

Pure: no Django. Adapters see plain values and answer plain values, so each one is tested
against a replaying server alone (tests/payments). Money is an integer in minor units with its
ISO 4217 currency. docs/payments.md; decision record 0009.

Three answers to a refund call, and what the caller does with each:

- a `RefundOutcome` with `succeeded` or `pending`: the provider holds a refund under our
  idempotency key (`pending` settles later, by webhook or by finance for `manual`);
- a `RefundOutcome` with `failed`: the provider answered, definitively, that it made no refund
  (already refunded, amount above what is left, card closed); `message` says why;
- a `ProviderError`: no answer we can trust (network, timeout, 5xx, rate limit, a request in
  progress under the same key, refused credentials). `retryable` tells whether trying again
  with the same idempotency key may succeed on its own; a refund may or may not exist at the
  provider, and only a retry with the same key finds out without paying twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Collection",
    "CollectionStatus",
    "CollectionUnsupported",
    "PaymentProvider",
    "ProviderError",
    "RefundOrder",
    "RefundOutcome",
    "RefundStatus",
    "WebhookSignatureInvalid",
]

RefundStatus = Literal["succeeded", "pending", "failed"]
CollectionStatus = Literal["open", "paid", "expired"]


@dataclass(frozen=True)
class RefundOrder:
    """One provider call. Every retry of one refund sends the same order, key included."""

    refund_id: str  # our public id ("rfd_..."), put in the provider's metadata / custom id
    idempotency_key: str  # the same on every retry of this refund
    amount: int  # minor units, > 0
    currency: str  # ISO 4217, upper case
    payment_reference: str  # Stripe "ch_..." or "pi_..."; PayPal capture id
    reason: str = ""  # short text for the provider, e.g. "requested_by_customer"


@dataclass(frozen=True)
class RefundOutcome:
    status: RefundStatus  # pending: accepted, the provider confirms later (webhook)
    reference: str  # the provider's refund id ("re_...", PayPal refund id); "" when none
    message: str = ""  # the provider's failure reason when failed
    raw: Mapping[str, Any] = field(default_factory=dict)  # the response body, for the log


class ProviderError(Exception):
    """The call gave no answer we can trust. Never carries a credential.

    `retryable`: the same call (same idempotency key) may succeed later on its own (network,
    5xx, 429, a conflicting request in progress); not retryable: it will not until someone
    changes something (credentials refused, a key reused with other parameters).
    `status` is the HTTP status when there was one; `raw` the error body, for the attempt log.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.raw: Mapping[str, Any] = raw or {}


class CollectionUnsupported(Exception):
    """This provider cannot collect a payment from the shopper; staff records it as paid."""


class WebhookSignatureInvalid(Exception):
    """A webhook whose signature does not check out (or is missing, or too old): refuse it."""


@dataclass(frozen=True)
class Collection:
    """A payment the shopper owes (an exchange's price difference), confirmed through `url`."""

    reference: str  # the provider's id (Stripe Checkout Session "cs_...")
    url: str  # where the shopper pays
    status: CollectionStatus


class PaymentProvider(Protocol):
    name: str  # "stripe" | "paypal" | "manual"

    def refund(self, order: RefundOrder) -> RefundOutcome:
        """Refund `order.amount` of the payment; raises ProviderError without a trusted answer."""
        ...

    def collect(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Collection:
        """Ask the shopper to pay; raises CollectionUnsupported where the provider cannot."""
        ...
