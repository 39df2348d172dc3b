"""PayPal, through its official `paypal-server-sdk` (module `paypalserversdk`): refunds of captures.

The SDK client authenticates with the merchant's client credentials (OAuth 2 client-credentials
grant); one adapter keeps its token until it expires. A refund is
`PaymentsController.refund_captured_payment` with `PayPal-Request-Id` set to the idempotency key
(PayPal keeps it 45 days), our refund id as `custom_id` and as `invoice_id` (PayPal refuses a
second refund with the same invoice id, a guard that outlives the request id), and
`Prefer: return=representation` so the answer is the whole refund for the attempt log.

Amounts are decimal strings in the currency's exponent (core.money; JPY "1500", USD "12.34").
PayPal takes no decimals at all for HUF, JPY and TWD: an amount with a fraction of those is a
`failed` outcome without a call.

Errors: no answer, 408, 409 (a request in progress), 429 and 5xx are retryable `ProviderError`s;
refused credentials (401/403, at the token endpoint or the API) are non-retryable; PayPal's
definitive refusals (400/404/422: already refunded, amount exceeded, time limit) are a `failed`
outcome with PayPal's issue and description, except DUPLICATE_INVOICE_ID, which means a refund
with this id already exists and is a non-retryable ProviderError for finance to reconcile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import requests
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from paypalserversdk.configuration import Configuration, Environment, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.money import Money as PayPalMoney
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from returndesk.core.money import Money, MoneyError, currency_exponent
from returndesk.refunds.providers.base import (
    Collection,
    CollectionUnsupported,
    ProviderError,
    RefundOrder,
    RefundOutcome,
    RefundStatus,
)

__all__ = ["ENVIRONMENTS", "PayPalProvider", "paypal_value"]

DEFAULT_TIMEOUT = 30.0
ENVIRONMENTS = {"sandbox": Environment.SANDBOX, "live": Environment.PRODUCTION}
STATUSES: dict[str, RefundStatus] = {
    "COMPLETED": "succeeded",
    "PENDING": "pending",
    "FAILED": "failed",
    "CANCELLED": "failed",
}
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})  # PayPal's currency codes page
RETRYABLE_STATUSES = frozenset({408, 409, 429})
CUSTOM_ID = re.compile(r"^[A-Za-z0-9\-_.,]{1,127}$")  # PayPal's pattern for custom_id


def paypal_value(amount: int, currency: str) -> str:
    """Minor units as PayPal's decimal string: 1234 USD -> "12.34", 1500 JPY -> "1500".

    Raises MoneyError for an unknown currency, or a fraction where PayPal takes none.
    """
    exponent = currency_exponent(Money(amount, currency).currency)
    if currency in NO_DECIMALS and exponent:
        whole, fraction = divmod(amount, 10**exponent)
        if fraction:
            raise MoneyError(
                f"PayPal takes whole {currency} amounts only, not {amount} minor units"
            )
        return str(whole)
    return f"{Money(amount, currency).to_decimal():.{exponent}f}"


class _Configuration(Configuration):
    """The SDK's configuration, pointed at another base URL (a replay server in tests)."""

    def __init__(self, *, api_base: str | None, **kwargs: Any) -> None:
        self._api_base = api_base.rstrip("/") if api_base else None
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self._api_base or super().get_base_uri(server)


def _body(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _issues(body: Mapping[str, Any]) -> list[str]:
    return [str(d.get("issue") or "") for d in body.get("details") or [] if isinstance(d, dict)]


def _message(body: Mapping[str, Any], fallback: str) -> str:
    details = [
        f"{d.get('issue')}: {d.get('description')}" if d.get("description") else str(d["issue"])
        for d in body.get("details") or []
        if isinstance(d, dict) and d.get("issue")
    ]
    if details:
        return "; ".join(details)
    return str(body.get("message") or body.get("error_description") or fallback)


class PayPalProvider:
    name = "paypal"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        environment: str = "sandbox",
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"PayPal environment is 'sandbox' or 'live', not {environment!r}")
        self._client_id = client_id
        self._client_secret = client_secret
        self.environment = environment
        self.api_base = api_base
        self.timeout = timeout
        self._sdk: PaypalServersdkClient | None = None

    def __repr__(self) -> str:  # never show the credentials
        return f"PayPalProvider(environment={self.environment!r}, api_base={self.api_base!r})"

    def _token(self, last: Any, auth: Any) -> Any:
        """The SDK's token provider: fetch a token and let its errors through.

        The SDK's own fetch swallows a failed token request and reports a missing token
        instead, which hides whether PayPal was down (retry) or refused the credentials (not).
        """
        if last is not None and not auth.is_token_expired(last):
            return last
        return auth.fetch_token()

    def _client(self) -> PaypalServersdkClient:
        if self._sdk is None:
            config = _Configuration(
                api_base=self.api_base,
                timeout=self.timeout,
                max_retries=0,  # the refund worker retries, with the same request id
                environment=ENVIRONMENTS[self.environment],
                client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                    o_auth_client_id=self._client_id,
                    o_auth_client_secret=self._client_secret,
                    o_auth_token_provider=self._token,
                ),
            )
            self._sdk = PaypalServersdkClient(config=config)
        return self._sdk

    def refund(self, order: RefundOrder) -> RefundOutcome:
        try:
            value = paypal_value(order.amount, order.currency)
        except MoneyError as exc:
            return RefundOutcome(status="failed", reference="", message=str(exc))
        request: dict[str, Any] = {
            "amount": PayPalMoney(currency_code=order.currency, value=value),
        }
        if CUSTOM_ID.fullmatch(order.refund_id):
            request["custom_id"] = order.refund_id
            request["invoice_id"] = order.refund_id
        if order.reason:
            request["note_to_payer"] = order.reason[:255]
        try:
            response = self._client().payments.refund_captured_payment(
                {
                    "capture_id": order.payment_reference,
                    "paypal_request_id": order.idempotency_key,
                    "prefer": "return=representation",
                    "body": RefundRequest(**request),
                }
            )
        except requests.RequestException as exc:
            raise ProviderError(
                f"PayPal could not be reached: {type(exc).__name__}", retryable=True
            ) from None
        except ApiException as exc:
            return self._refused(exc)
        except AuthValidationException as exc:
            raise ProviderError(f"PayPal gave no access token: {exc}", retryable=True) from None
        data = _body(response.text)
        status = STATUSES.get(str(data.get("status") or ""), "pending")
        reason = str((data.get("status_details") or {}).get("reason") or "")
        return RefundOutcome(
            status=status,
            reference=str(data.get("id") or ""),
            message=(reason or str(data.get("status")).lower()) if status == "failed" else "",
            raw=data,
        )

    def _refused(self, exc: ApiException) -> RefundOutcome:
        code = int(exc.response_code or 0)
        body = _body(getattr(exc.response, "text", ""))
        message = _message(body, exc.reason or f"HTTP {code}")
        if code in (401, 403):
            raise ProviderError(
                f"PayPal refused the merchant's credentials ({code}): {message}",
                retryable=False,
                status=code,
                raw=body,
            )
        if code >= 500 or code in RETRYABLE_STATUSES:
            raise ProviderError(
                f"PayPal error ({code}): {message}", retryable=True, status=code, raw=body
            )
        if "DUPLICATE_INVOICE_ID" in _issues(body):
            raise ProviderError(
                f"PayPal already holds a refund with this invoice id: {message}",
                retryable=False,
                status=code,
                raw=body,
            )
        return RefundOutcome(status="failed", reference="", message=message, raw=body)

    def collect(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Collection:
        raise CollectionUnsupported(
            "PayPal collections are not built: staff records the shopper's payment as paid"
        )
