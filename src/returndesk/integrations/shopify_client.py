"""Shopify's Admin REST API through the official library (ShopifyAPI, module `shopify`): the three
calls a refund write-back needs. No ORM: a shop, a token and plain dicts in, plain dicts out, or
`ShopifyError` saying whether trying again may help.

The library keeps its session on `shopify.ShopifyResource` per thread; each call here opens the
session, makes its requests and clears it, so a worker thread never carries one merchant's token
into another merchant's call. `api_base` (settings.RETURNDESK_SHOPIFY_API_BASE) points every
call at a replay server in tests instead of https://<shop>.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyactiveresource.connection
import shopify
from shopify.api_version import ApiVersion, InvalidVersionError, VersionNotFoundError

TIMEOUT_SECONDS = 20


class ShopifyError(Exception):
    """A call that did not succeed. `retriable`: the answer may differ later (429, 5xx, the
    network); otherwise Shopify refused (401, 403, 404, 422...) and a person must look."""

    def __init__(self, message: str, *, retriable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.status = status


@dataclass(frozen=True)
class ShopifyShop:
    domain: str  # acme.myshopify.com
    token: str
    api_version: str
    api_base: str = ""  # e.g. http://127.0.0.1:PORT for a replay server; empty: the shop


def _site(shop: ShopifyShop) -> str:
    try:
        version = ApiVersion.coerce_to_version(shop.api_version)
    except (InvalidVersionError, VersionNotFoundError):
        raise ShopifyError(
            f"'{shop.api_version}' is not a Shopify API version", retriable=False
        ) from None
    base = shop.api_base.rstrip("/") if shop.api_base else f"https://{shop.domain}"
    return version.api_path(base)


@contextmanager
def _session(shop: ShopifyShop) -> Iterator[None]:
    if not shop.token:
        raise ShopifyError("the Shopify connection has no access token", retriable=False)
    resource = shopify.ShopifyResource
    resource.activate_session(shopify.Session(shop.domain or "shop", shop.api_version, shop.token))
    resource.site = _site(shop)  # the library would always say https://<name>.myshopify.com
    resource.timeout = TIMEOUT_SECONDS
    try:
        yield
    except pyactiveresource.connection.Error as exc:
        status = exc.code if isinstance(exc.code, int) else None
        if status is None:  # no answer at all (refused, DNS, ...)
            raise ShopifyError(f"Shopify could not be reached: {exc}", retriable=True) from None
        response = getattr(exc, "response", None)
        body = getattr(response, "body", b"") or b""
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        retriable = status == 429 or status >= 500
        raise ShopifyError(
            f"Shopify answered {status}: {text[:500] or exc}", retriable=retriable, status=status
        ) from None
    except (OSError, json.JSONDecodeError) as exc:  # timeouts, resets, an unreadable answer
        raise ShopifyError(f"Shopify could not be reached: {exc}", retriable=True) from None
    finally:
        resource.clear_session()


def _dicts(found: Any) -> list[dict[str, Any]]:
    items = found if isinstance(found, list | tuple) or hasattr(found, "__iter__") else [found]
    return [item.to_dict() for item in items if item is not None]


def refunds_list(shop: ShopifyShop, order_id: str) -> list[dict[str, Any]]:
    """The order's refunds in Shopify (GET orders/{id}/refunds.json)."""
    with _session(shop):
        return _dicts(shopify.Refund.find(order_id=int(order_id)))


def transactions_list(shop: ShopifyShop, order_id: str) -> list[dict[str, Any]]:
    """The order's payment transactions (GET orders/{id}/transactions.json)."""
    with _session(shop):
        return _dicts(shopify.Transaction.find(order_id=int(order_id)))


def refund_create(shop: ShopifyShop, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create a refund (POST orders/{id}/refunds.json with `{"refund": body}`); answers it."""
    with _session(shop):
        refund = shopify.Refund(dict(body), prefix_options={"order_id": int(order_id)})
        if not refund.save():
            messages = "; ".join(refund.errors.full_messages()) or "the refund was refused"
            raise ShopifyError(
                f"Shopify refused the refund: {messages}", retriable=False, status=422
            )
        created: dict[str, Any] = refund.to_dict()
        if not created.get("id"):
            raise ShopifyError("Shopify's answer names no refund id", retriable=True)
        return created
