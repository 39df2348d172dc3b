"""Reads for shop integrations: a merchant's connections, its inbound webhooks and write-backs.
Call inside the merchant's scope."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from returndesk.core.errors import NotFound
from returndesk.integrations.models import (
    KINDS,
    WEBHOOK_STATES,
    WRITE_BACK_STATES,
    InboundWebhook,
    ShopConnection,
    ShopWriteBack,
)


def shop_connection_for(*, merchant_id: int, kind: str) -> ShopConnection:
    """The merchant's connection to `kind`, or an unsaved one with the defaults."""
    if kind not in KINDS:
        raise NotFound(f"No shop system '{kind}'; there are {', '.join(KINDS)}.")
    found = ShopConnection.objects.filter(merchant_id=merchant_id, kind=kind).first()
    return found or ShopConnection(merchant_id=merchant_id, kind=kind, enabled=False)


def shop_webhooks_list(*, merchant_id: int, kind: str = "", state: str = "") -> QuerySet:
    found = InboundWebhook.objects.filter(merchant_id=merchant_id).defer("body")
    if kind in KINDS:
        found = found.filter(kind=kind)
    if state in WEBHOOK_STATES:
        found = found.filter(state=state)
    return found.order_by("-created_at", "-pk")


def shop_webhook_counts(*, merchant_id: int, kind: str = "") -> dict[str, int]:
    found = InboundWebhook.objects.filter(merchant_id=merchant_id)
    if kind in KINDS:
        found = found.filter(kind=kind)
    counts = dict(found.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in WEBHOOK_STATES}


def shop_webhook_get(*, merchant_id: int, public_id: str) -> InboundWebhook:
    found = InboundWebhook.objects.filter(merchant_id=merchant_id, public_id=public_id).first()
    if found is None:
        raise NotFound(f"No shop webhook {public_id}.")
    return found


def shop_write_backs_list(*, merchant_id: int, state: str = "") -> QuerySet:
    found = ShopWriteBack.objects.filter(merchant_id=merchant_id).select_related(
        "shop_order__order"
    )
    if state in WRITE_BACK_STATES:
        found = found.filter(state=state)
    return found.order_by("-created_at", "-pk")
