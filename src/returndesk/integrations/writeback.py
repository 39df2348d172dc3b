"""Refunds written back to Shopify (docs/integrations.md, "Refunds back to Shopify").

`shop_write_back_fan_out` is an outbox fan-out handler (notifications/dispatch.py): for a
`refund.succeeded` event of a merchant whose Shopify connection writes refunds back, about an
order that came from Shopify, it creates one `ShopWriteBack` row (unique per refund, so the
fan-out may run twice) and enqueues its sending in the same transaction. It never calls
Shopify: the fan-out transaction must stay short and safe to repeat.

`shop_write_back_send` (the task, and the periodic sweep for retries) claims the row with a
lease, counts the attempt before calling, and creates the refund through the official library.
An attempt after one whose answer was lost first looks for the refund in Shopify by the marker in
its note, so a retry never creates it twice. Shopify's refusals (401, 403, 404, 422) fail the row
at once; 429, 5xx and the network retry with backoff until MAX_ATTEMPTS. Failures stay visible
in the console with a retry.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order, OrderLine
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, NotFound
from returndesk.core.ids import new_public_id
from returndesk.core.leases import claim_due
from returndesk.core.money import Money
from returndesk.integrations import shopify_client
from returndesk.integrations.models import (
    SHOPIFY,
    WB_FAILED,
    WB_PENDING,
    WB_SUCCEEDED,
    ShopConnection,
    ShopOrder,
    ShopWriteBack,
)
from returndesk.integrations.shopify_client import ShopifyError, ShopifyShop
from returndesk.integrations.tasks import send_shop_write_back
from returndesk.notifications.models import OutboxMessage
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

EVENT = "refund.succeeded"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
# Refunds ReturnDesk credited to its own ledgers: Shopify is told about the items only; no
# Shopify transaction, which would pay the shopper through the order's gateway again.
LEDGER_PROVIDERS = frozenset({"store_credit", "gift_card"})
# Refunds ReturnDesk paid through its own provider adapters: recorded the same way.
PAID_BY_RETURNDESK = frozenset({"stripe", "paypal"})
PAYING_KINDS = ("sale", "capture")


def marker(refund_id: str) -> str:
    """What the note of a written-back refund carries: how a retry finds it in Shopify."""
    return f"[ReturnDesk {refund_id}]"


# --- fan-out ---------------------------------------------------------------------------------


def _amount(value: Any) -> int:
    if isinstance(value, dict):
        value = value.get("amount")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _shop_order_for(merchant_id: int, data: dict[str, Any]) -> ShopOrder | None:
    """The Shopify order a refund belongs to: by the event's order number when it names one,
    else by its lines (Shopify's line item ids are unique across the shop)."""
    number = str(data.get("order_number") or "")
    if number:
        order_id = (
            Order.objects.filter(merchant_id=merchant_id, order_number=number)
            .values_list("pk", flat=True)
            .first()
        )
        order_ids = {order_id} if order_id else set()
    else:
        line_ids = [str(li.get("line_id")) for li in data.get("lines") or [] if li.get("line_id")]
        order_ids = set(
            OrderLine.objects.filter(
                merchant_id=merchant_id,
                line_id__in=line_ids,
                order__shop_order__kind=SHOPIFY,
            ).values_list("order_id", flat=True)
        )
    if len(order_ids) != 1:
        return None
    return ShopOrder.objects.filter(
        merchant_id=merchant_id, kind=SHOPIFY, order_id=order_ids.pop()
    ).first()


def shop_write_back_fan_out(message: OutboxMessage) -> None:
    """Turn a `refund.succeeded` outbox row into a write-back row; a no-op for anything else and
    when run again. Runs inside the fan-out's transaction: no call to Shopify here."""
    if message.type != EVENT:
        return
    data = (message.payload or {}).get("data") or {}
    refund_id = str(data.get("refund") or "")
    if not refund_id:
        return
    with scopes_disabled():
        connection = ShopConnection.objects.filter(
            merchant_id=message.merchant_id,
            kind=SHOPIFY,
            enabled=True,
            write_back_refunds=True,
        ).first()
        if connection is None or ShopWriteBack.objects.filter(refund_id=refund_id).exists():
            return
        shop_order = _shop_order_for(message.merchant_id, data)
        if shop_order is None:
            return  # not an order from this merchant's Shopify
        amount = data.get("amount") or {}
        lines = [
            {"line_id": str(li["line_id"]), "quantity": int(li["quantity"])}
            for li in data.get("lines") or []
            if li.get("line_id") and isinstance(li.get("quantity"), int) and li["quantity"] > 0
        ]
        shipping = _amount((data.get("shipping") or {}).get("amount"))
        row = ShopWriteBack(
            merchant_id=message.merchant_id,
            public_id=new_public_id("swb"),
            refund_id=refund_id,
            event_id=message.event_id,
            shop_order=shop_order,
            ran=str(data.get("ran") or "")[:13],
            settlement=str(data.get("settlement") or "")[:40],
            lines=lines,
            shipping_amount=shipping,
            currency=str(amount.get("currency") or shop_order.order.currency),
            amount=_amount(amount),
            method=str(data.get("method") or "")[:20],
            provider=str(data.get("provider") or "")[:20],
            provider_reference=str(data.get("provider_reference") or "")[:200],
            next_attempt_at=timezone.now(),
        )
        # The settlement's items go with the first of its refunds to get here; the unique
        # constraint settles a race between two workers.
        row.carries_lines = bool(row.settlement) and bool(lines or shipping)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            if ShopWriteBack.objects.filter(refund_id=refund_id).exists():
                return
            row.pk = None
            row.carries_lines = False
            row.save()
        send_shop_write_back.enqueue(write_back_id=row.pk)


# --- sending ---------------------------------------------------------------------------------


def carries_transaction(row: ShopWriteBack) -> bool:
    """Whether Shopify is asked to move the money: only for a refund ReturnDesk left to be paid
    outside its own adapters and ledgers (the `manual` route, which a Shopify payment always
    takes, ReturnDesk having no Shopify adapter)."""
    return row.provider not in LEDGER_PROVIDERS | PAID_BY_RETURNDESK and row.amount > 0


def parent_transaction(
    transactions: list[dict[str, Any]], *, amount: int, method: str, currency: str
) -> dict[str, Any] | None:
    """The order's payment to refund `amount` from: a successful sale or capture (an
    authorisation when nothing was captured) with that much left, PayPal's first for a PayPal
    tender; never a gift card."""
    ok = [t for t in transactions if str(t.get("status")) == "success"]
    kinds = PAYING_KINDS if any(t.get("kind") in PAYING_KINDS for t in ok) else ("authorization",)
    refunded: dict[str, int] = {}
    for t in ok:
        if t.get("kind") == "refund" and t.get("parent_id") is not None:
            key = str(t["parent_id"])
            refunded[key] = (
                refunded.get(key, 0)
                + Money.from_decimal(str(t.get("amount") or "0"), currency).amount
            )
    candidates = []
    for t in ok:
        gateway = str(t.get("gateway") or "")
        if t.get("kind") not in kinds or gateway == "gift_card":
            continue
        left = Money.from_decimal(str(t.get("amount") or "0"), currency).amount
        left -= refunded.get(str(t.get("id")), 0)
        if left >= amount:
            candidates.append(((method == "paypal") != ("paypal" in gateway), t))
    candidates.sort(key=lambda pair: pair[0])
    return candidates[0][1] if candidates else None


def refund_body(row: ShopWriteBack, parent: dict[str, Any] | None) -> dict[str, Any]:
    """The `refund` object POSTed to orders/{id}/refunds.json."""
    paid = Money(row.amount, row.currency)
    how = f"{row.method} via {row.provider}" + (
        f" ({row.provider_reference})" if row.provider_reference else ""
    )
    body: dict[str, Any] = {
        "currency": row.currency,
        "notify": False,  # ReturnDesk's own e-mails tell the shopper
        "note": f"{marker(row.refund_id)} return {row.ran}: {paid} refunded, {how}.",
    }
    if row.carries_lines:
        body["refund_line_items"] = [
            {
                "line_item_id": int(li["line_id"]),
                "quantity": li["quantity"],
                "restock_type": "no_restock",
            }
            for li in row.lines
            if str(li["line_id"]).isdigit()
        ]
        if row.shipping_amount:
            body["shipping"] = {
                "amount": str(Money(row.shipping_amount, row.currency).to_decimal())
            }
    if parent is not None:
        body["transactions"] = [
            {
                "parent_id": int(parent["id"]),
                "amount": str(paid.to_decimal()),
                "kind": "refund",
                "gateway": str(parent.get("gateway") or ""),
            }
        ]
    return body


def shop_for(connection: ShopConnection) -> ShopifyShop:
    return ShopifyShop(
        domain=connection.shop_url,
        token=connection.access_token,
        api_version=connection.api_version,
        api_base=str(getattr(settings, "RETURNDESK_SHOPIFY_API_BASE", "") or ""),
    )


def _claim(write_back_id: int, worker: str, now: datetime) -> bool:
    with scopes_disabled():
        return bool(
            ShopWriteBack.objects.filter(pk=write_back_id, state=WB_PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + LEASE, claimed_by=worker)
        )


def _finish(row: ShopWriteBack, worker: str, **fields: Any) -> str:
    with scopes_disabled():
        ShopWriteBack.objects.filter(pk=row.pk, claimed_by=worker).update(
            claimed_until=None, claimed_by="", **fields
        )
    return str(fields.get("state", row.state))


def _send(row: ShopWriteBack, shop: ShopifyShop) -> tuple[str, dict[str, Any]]:
    """Create the refund in Shopify (or find the one an earlier attempt created); answers
    Shopify's refund id and the body sent."""
    order_id = row.shop_order.external_id
    if row.attempts > 1:
        for existing in shopify_client.refunds_list(shop, order_id):
            if marker(row.refund_id) in str(existing.get("note") or ""):
                return str(existing.get("id")), row.request_body
    parent = None
    if carries_transaction(row):
        parent = parent_transaction(
            shopify_client.transactions_list(shop, order_id),
            amount=row.amount,
            method=row.method,
            currency=row.currency,
        )
        if parent is None:
            raise ShopifyError(
                f"Shopify order {order_id} has no payment with "
                f"{Money(row.amount, row.currency)} left to refund",
                retriable=False,
            )
    body = refund_body(row, parent)
    with scopes_disabled():
        ShopWriteBack.objects.filter(pk=row.pk).update(request_body=body)
    created = shopify_client.refund_create(shop, order_id, body)
    return str(created["id"]), body


def shop_write_back_send(*, write_back_id: int, now: datetime | None = None) -> str:
    """Send one write-back; safe to run twice and concurrently. Answers its state afterwards
    ("skipped" when another worker holds it or it is done)."""
    now = now or timezone.now()
    worker = uuid.uuid4().hex[:16]
    if not _claim(write_back_id, worker, now):
        return "skipped"
    return _send_claimed(write_back_id, worker, now)


def _send_claimed(write_back_id: int, worker: str, now: datetime) -> str:
    with scopes_disabled():
        row = ShopWriteBack.objects.select_related("shop_order").get(pk=write_back_id)
        connection = ShopConnection.objects.filter(
            merchant_id=row.merchant_id, kind=SHOPIFY
        ).first()
        # The attempt is counted before the call: a worker killed during it still left a trace,
        # and the next attempt looks in Shopify before creating anything.
        row.attempts += 1
        ShopWriteBack.objects.filter(pk=row.pk).update(attempts=row.attempts)
    if connection is None or not connection.enabled or not connection.write_back_refunds:
        return _finish(
            row,
            worker,
            state=WB_FAILED,
            next_attempt_at=None,
            last_error="The merchant's Shopify connection no longer writes refunds back.",
        )
    try:
        shop_refund_id, body = _send(row, shop_for(connection))
    except ShopifyError as exc:
        give_up = not exc.retriable or row.attempts - row.retry_from >= MAX_ATTEMPTS
        if give_up:
            logger.warning("shopify write-back %s failed: %s", row.public_id, exc)
        return _finish(
            row,
            worker,
            state=WB_FAILED if give_up else WB_PENDING,
            next_attempt_at=None
            if give_up
            else now + BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)],
            last_error=str(exc)[:4000],
        )
    except Exception as exc:  # a bug or a surprise: retried, and kept visible meanwhile
        logger.exception("shopify write-back %s failed", row.public_id)
        give_up = row.attempts - row.retry_from >= MAX_ATTEMPTS
        return _finish(
            row,
            worker,
            state=WB_FAILED if give_up else WB_PENDING,
            next_attempt_at=None
            if give_up
            else now + BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)],
            last_error=f"{type(exc).__name__}: {exc}"[:4000],
        )
    return _finish(
        row,
        worker,
        state=WB_SUCCEEDED,
        shop_refund_id=shop_refund_id[:64],
        request_body=body,
        next_attempt_at=None,
        last_error="",
        sent_at=timezone.now(),
    )


def shop_write_backs_send_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """The worker's job: send the write-backs that are due (retries, lost tasks)."""
    now = now or timezone.now()
    worker = f"shop-write-backs-{uuid.uuid4().hex[:8]}"
    with scopes_disabled():
        ids = claim_due(
            ShopWriteBack.objects.filter(state=WB_PENDING),
            worker_id=worker,
            now=now,
            lease=LEASE,
            limit=limit,
        )
    return sum(_send_claimed(pk, worker, now) == WB_SUCCEEDED for pk in ids)


def shop_write_back_retry(*, actor: Actor, merchant: Merchant, public_id: str) -> ShopWriteBack:
    """Support sends a failed write-back again, with a fresh schedule (after fixing the token,
    say). The next attempt looks in Shopify first, so nothing is refunded twice."""
    with transaction.atomic():
        row = (
            ShopWriteBack.objects.select_for_update()
            .filter(merchant=merchant, public_id=public_id)
            .first()
        )
        if row is None:
            raise NotFound(f"No write-back {public_id}.")
        if row.state != WB_FAILED:
            raise Conflict(f"A {row.state} write-back is not sent again.", code="not_retriable")
        # attempts stays above one: the next attempt looks in Shopify before creating
        row.state, row.next_attempt_at = WB_PENDING, timezone.now()
        row.retry_from = row.attempts
        row.claimed_until, row.claimed_by = None, ""
        row.save()
        send_shop_write_back.enqueue(write_back_id=row.pk)
        audit_record(
            actor=actor,
            action="shop_write_back.retry",
            object_type="shop_write_back",
            object_ref=row.public_id,
            merchant_id=merchant.pk,
            changes={"state": [WB_FAILED, WB_PENDING]},
        )
    return row
