"""Reading inbound shop webhooks: who sent them, what they are about, and whether they are signed
with the merchant's secret. No ORM: bytes and headers in, a verdict out.

Both shops sign the raw body alone with HMAC-SHA256 and send the digest base64-encoded:
Shopify in `X-Shopify-Hmac-Sha256`, WooCommerce in `X-WC-Webhook-Signature`. Neither signs a
timestamp, so a replay is caught by the delivery id (deduplication) and by the order's own
`updated_at` (an older version never overwrites a newer one), not by age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from returndesk.integrations.mapping import SHOPIFY, WOOCOMMERCE

SHOPIFY_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-API-Version",
)
WOOCOMMERCE_HEADERS = (
    "X-WC-Webhook-Source",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
)
COMMON_HEADERS = ("Content-Type", "User-Agent")
# The topics that carry an order to write; any other signed topic is stored and ignored.
ORDER_TOPICS = {
    SHOPIFY: frozenset({"orders/create", "orders/updated", "orders/fulfilled", "orders/paid"}),
    WOOCOMMERCE: frozenset({"order.created", "order.updated", "order.restored"}),
}
# WooCommerce checks a new webhook's delivery URL with an unsigned form body "webhook_id=N"
# and refuses to save the webhook unless it answers 2xx.
WOO_PING = re.compile(rb"^webhook_id=\d{1,20}$")


class SignatureRejected(Exception):
    """Unsigned, tampered, signed with another secret, or from another shop."""


@dataclass(frozen=True)
class Envelope:
    """What the headers say about a webhook, before its signature is checked."""

    topic: str
    delivery_id: str  # the sender's id of this delivery: the same on its retries
    kept: dict[str, str]


def kept_headers(kind: str, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers stored with the body (never Authorization or cookies)."""
    names = (*COMMON_HEADERS, *(SHOPIFY_HEADERS if kind == SHOPIFY else WOOCOMMERCE_HEADERS))
    return {name: str(headers[name])[:500] for name in names if headers.get(name) is not None}


def envelope(kind: str, body: bytes, headers: Mapping[str, str]) -> Envelope:
    if kind == SHOPIFY:
        topic = headers.get("X-Shopify-Topic") or ""
        delivery = headers.get("X-Shopify-Webhook-Id") or headers.get("X-Shopify-Event-Id") or ""
    else:
        topic = headers.get("X-WC-Webhook-Topic") or ""
        delivery = headers.get("X-WC-Webhook-Delivery-ID") or ""
        hook = headers.get("X-WC-Webhook-ID") or ""
        if delivery and hook:
            delivery = f"{hook}:{delivery}"
    if not delivery:
        # No id from the sender: the same bytes are the same delivery.
        delivery = "sha256:" + hashlib.sha256(body).hexdigest()
    return Envelope(topic.strip()[:100], delivery.strip()[:200], kept_headers(kind, headers))


def signature_of(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)): how both shops sign."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _host(value: str) -> str:
    text = value.strip().lower()
    if "://" not in text:
        text = "https://" + text
    return (urlsplit(text).hostname or "").removeprefix("www.")


def verify(
    kind: str, body: bytes, headers: Mapping[str, str], *, secret: str, shop_url: str = ""
) -> None:
    """Raise SignatureRejected unless the body is signed with `secret`. When the connection
    names its shop and the webhook says which shop sent it, they must be the same (a Shopify
    app's secret is shared by every shop that installed it)."""
    if not secret:
        raise SignatureRejected(f"the merchant's {kind} connection has no webhook secret")
    header = "X-Shopify-Hmac-Sha256" if kind == SHOPIFY else "X-WC-Webhook-Signature"
    given = (headers.get(header) or "").strip()
    if not given:
        raise SignatureRejected(f"no {header} header: the webhook is not signed")
    if not hmac.compare_digest(given.encode(), signature_of(body, secret).encode()):
        raise SignatureRejected(f"{header} does not match the body signed with the secret")
    source = headers.get("X-Shopify-Shop-Domain" if kind == SHOPIFY else "X-WC-Webhook-Source")
    if shop_url and source and _host(source) != _host(shop_url):
        raise SignatureRejected(
            f"sent by {_host(source)}, but the connection is for {_host(shop_url)}"
        )


def is_order_topic(kind: str, topic: str) -> bool:
    return topic in ORDER_TOPICS[kind]


def is_woo_ping(kind: str, body: bytes, headers: Mapping[str, str]) -> bool:
    return (
        kind == WOOCOMMERCE
        and not headers.get("X-WC-Webhook-Topic")
        and bool(WOO_PING.match(body.strip()))
    )
