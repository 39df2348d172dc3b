"""Writes for shop connections: a merchant's Shopify and WooCommerce settings. Secrets are
write-only: an empty value leaves a stored one as it is, `None` clears it; pages and the API show
`secret_hint` at most, and the audit log says only "set" or "cleared"."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import FieldError, NotFound, ValidationFailed
from returndesk.integrations.models import KINDS, SHOPIFY, WOOCOMMERCE, ShopConnection
from returndesk.integrations.selectors import shop_connection_for
from returndesk.tenants.models import Merchant

SECRETS = ("webhook_secret", "access_token")
SETTINGS = (
    "shop_url",
    "webhook_secret",
    "access_token",
    "api_version",
    "write_back_refunds",
    "enabled",
)
SHOPIFY_ONLY = ("access_token", "api_version", "write_back_refunds")
_MYSHOPIFY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
_API_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")
MAX_SECRET = 500


def shop_url_normalize(kind: str, raw: str) -> str:
    """Shopify: the bare myshopify.com domain; WooCommerce: the base URL without a trailing
    slash. Raises ValidationFailed on anything else. Empty stays empty."""
    text = raw.strip()
    if not text:
        return ""
    if kind == SHOPIFY:
        host = urlsplit(text if "://" in text else f"https://{text}").hostname or ""
        if not _MYSHOPIFY.match(host):
            raise ValidationFailed.on(
                "shop_url", "the shop's myshopify.com domain, e.g. acme.myshopify.com"
            )
        return host
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(text) > 300:
        raise ValidationFailed.on("shop_url", "the store's address, e.g. https://shop.example")
    return text.rstrip("/")


@sensitive_variables()  # the changes and the row hold the shop's secrets
def shop_connection_update(
    *, actor: Actor, merchant: Merchant, kind: str, changes: dict[str, Any]
) -> ShopConnection:
    """Create or change the merchant's connection to `kind`."""
    if kind not in KINDS:
        raise NotFound(f"No shop system '{kind}'; there are {', '.join(KINDS)}.")
    errors: list[FieldError] = []
    for name in changes:
        if name not in SETTINGS:
            errors.append(FieldError(name, "not a setting of a shop connection"))
        elif (
            kind == WOOCOMMERCE and name in SHOPIFY_ONLY and changes[name] not in (None, "", False)
        ):
            errors.append(FieldError(name, "only Shopify connections have it"))
    if "shop_url" in changes:
        try:
            changes["shop_url"] = shop_url_normalize(kind, changes["shop_url"] or "")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    version = changes.get("api_version")
    if version is not None and not _API_VERSION.match(str(version)):
        errors.append(FieldError("api_version", "a Shopify release such as 2024-10"))
    for name in SECRETS:
        value = changes.get(name)
        if isinstance(value, str) and (len(value) > MAX_SECRET or value != value.strip()):
            errors.append(FieldError(name, f"at most {MAX_SECRET} characters, no edge spaces"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    with transaction.atomic():
        row, _ = ShopConnection.objects.select_for_update().get_or_create(
            merchant=merchant, kind=kind
        )
        changed: dict[str, Any] = {}
        for name, value in changes.items():
            if name in SECRETS:
                if value == "":
                    continue
                value = value or ""
                changed[name] = "set" if value else "cleared"
            elif name in ("write_back_refunds", "enabled"):
                value = bool(value)
                changed[name] = value
            else:
                value = "" if value is None else str(value)
                if name == "api_version" and not value:
                    continue
                changed[name] = value
            setattr(row, name, value)
        if row.write_back_refunds and not (row.access_token and row.shop_url):
            raise ValidationFailed.on(
                "write_back_refunds",
                "writing refunds back needs the shop's domain and an Admin API access token",
            )
        row.save()
        audit_record(
            actor=actor,
            action="shop_connection.update",
            object_type="shop_connection",
            object_ref=kind,
            merchant_id=merchant.pk,
            changes=changed,
        )
    return row


__all__ = ["shop_connection_for", "shop_connection_update", "shop_url_normalize"]
