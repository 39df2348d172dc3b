"""Order webhooks from Shopify and WooCommerce: stored raw first, then processed by the worker.

`shop_webhook_receive` stores every webhook for a merchant's connection whatever it says: an
unsigned or tampered one as rejected (the caller answers 401), a signed one pending with its
processing task enqueued in the same transaction. A delivery id already stored is a duplicate:
counted on the original, not processed again. `shop_webhook_process` maps the order
(`mapping.py`) and writes it through the catalogue's `orders_upsert`, unless the shop already
sent a newer version of that order (its `updated_at`, kept per order in `ShopOrder`). A periodic
job retries what failed for a passing reason and picks up tasks lost with their worker.
docs/integrations.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order
from returndesk.catalog.services import FAILED as UPSERT_FAILED
from returndesk.catalog.services import orders_upsert
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.leases import claim_due
from returndesk.core.tenancy import merchant_scope
from returndesk.integrations import signatures
from returndesk.integrations.mapping import (
    MappedOrder,
    NotAnOrder,
    UnmappableOrder,
    map_order,
    parse_json,
)
from returndesk.integrations.models import (
    FAILED,
    IGNORED,
    KINDS,
    PENDING,
    PROCESSED,
    REJECTED,
    InboundWebhook,
    ShopConnection,
    ShopOrder,
)
from returndesk.integrations.tasks import process_shop_webhook
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# The task goes first; the worker's sweep is the backstop for a task lost with its worker.
SWEEP_AFTER = timedelta(minutes=1)
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
RETRIABLE = (FAILED, IGNORED)
ACTORS = {kind: Actor.system(f"{kind} webhook") for kind in KINDS}


class ShopWebhookRejected(ApplicationError):
    code = "unauthenticated"
    status = 401
    title = "Unauthenticated"


@dataclass(frozen=True)
class Received:
    id: str
    status: str  # accepted | duplicate | ignored


def _resource_id(body: bytes) -> str:
    try:
        data = parse_json(body)
    except NotAnOrder:
        return ""
    value = data.get("id") if isinstance(data, Mapping) else None
    return "" if value is None or isinstance(value, bool) else str(value)[:64]


def shop_webhook_receive(
    *,
    kind: str,
    merchant_slug: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> Received:
    """Store a shop's webhook and queue its processing. An unknown merchant, or one without a
    connection to `kind`, is NotFound (nothing to store it under). A bad signature is stored as
    rejected and raises ShopWebhookRejected (401)."""
    if kind not in KINDS:
        raise NotFound(f"No shop system '{kind}' sends webhooks here.")
    now = now or timezone.now()
    with scopes_disabled():
        merchant = Merchant.objects.filter(slug=merchant_slug, is_active=True).first()
    if merchant is None:
        raise NotFound(f"No merchant '{merchant_slug}'.")
    with merchant_scope(merchant):
        connection = ShopConnection.objects.filter(merchant=merchant, kind=kind).first()
        if connection is None:
            raise NotFound(f"Merchant '{merchant_slug}' has no {kind} connection.")
        env = signatures.envelope(kind, body, headers)
        row = InboundWebhook(
            merchant=merchant,
            public_id=new_public_id("swh"),
            kind=kind,
            topic=env.topic,
            delivery_id=env.delivery_id,
            resource_id=_resource_id(body),
            body=body,
            headers=env.kept,
        )
        if signatures.is_woo_ping(kind, body, headers):
            row.state, row.detail = IGNORED, "WooCommerce checking the delivery URL (a ping)."
            row.delivery_id = ""
            row.save()
            return Received(row.public_id, "ignored")
        try:
            signatures.verify(
                kind, body, headers, secret=connection.webhook_secret, shop_url=connection.shop_url
            )
        except signatures.SignatureRejected as exc:
            row.state, row.detail = REJECTED, str(exc)
            row.save()
            logger.warning("%s webhook for %s rejected: %s", kind, merchant_slug, exc)
            raise ShopWebhookRejected(f"The webhook is refused: {exc}.") from None
        row.signature_valid = True
        if not connection.enabled:
            row.state, row.detail = IGNORED, f"The {kind} connection is switched off."
        elif not signatures.is_order_topic(kind, env.topic):
            row.state, row.detail = IGNORED, f"Topic '{env.topic or '(none)'}' is not read."
        else:
            row.state, row.next_attempt_at = PENDING, now + SWEEP_AFTER
        try:
            with transaction.atomic():
                row.save()
                if row.state == PENDING:
                    # The database backend writes the task in this transaction: both or neither.
                    process_shop_webhook.enqueue(webhook_id=row.pk)
        except IntegrityError:
            original = InboundWebhook.objects.filter(
                merchant=merchant, kind=kind, delivery_id=env.delivery_id, signature_valid=True
            ).first()
            if original is None:
                raise
            InboundWebhook.objects.filter(pk=original.pk).update(
                duplicates=F("duplicates") + 1, last_duplicate_at=now
            )
            return Received(original.public_id, "duplicate")
    return Received(row.public_id, "accepted" if row.state == PENDING else "ignored")


# --- processing ------------------------------------------------------------------------------


class OlderVersion(Exception):
    """The shop already sent a newer version of this order."""


def shop_order_apply(
    *, merchant: Merchant, mapped: MappedOrder, webhook: InboundWebhook | None = None
) -> tuple[str, str]:
    """Write a mapped shop order through the catalogue, unless a newer version of it was
    applied before. Answers (outcome, order number); raises OlderVersion, Conflict (the number
    belongs to an order from elsewhere) or ValidationFailed (the catalogue refused it). Call in
    the merchant's scope."""
    actor = ACTORS[mapped.source]
    with transaction.atomic():
        link = (
            ShopOrder.objects.select_for_update()
            .select_related("order")
            .filter(merchant=merchant, kind=mapped.source, external_id=mapped.external_id)
            .first()
        )
        data = mapped.order
        if link is not None:
            if mapped.updated_at < link.source_updated_at:
                raise OlderVersion(
                    f"Shop order {mapped.external_id} was changed at "
                    f"{mapped.updated_at.isoformat()}, before the version already applied "
                    f"({link.source_updated_at.isoformat()}): nothing overwritten."
                )
            # The number the order was first written under stays its number.
            data = replace(data, order_number=link.order.order_number)
        else:
            taken = Order.objects.filter(merchant=merchant, order_number=data.order_number).first()
            if taken is not None:
                raise Conflict(
                    f"Order {data.order_number} already exists (from {taken.source}) and is not "
                    f"{mapped.source} order {mapped.external_id}; it is left as it is.",
                    code="order_number_taken",
                )
        (result,) = orders_upsert(
            actor=actor, merchant=merchant, orders=[data], allow_new_products=True
        )
        if result.outcome == UPSERT_FAILED or result.order is None:
            raise ValidationFailed(
                "; ".join(f"{e.field}: {e.message}" for e in result.errors)
                or "the catalogue refused the order",
                errors=result.errors,
            )
        if link is None:
            link = ShopOrder(
                merchant=merchant,
                kind=mapped.source,
                external_id=mapped.external_id,
                order=result.order,
            )
        link.source_updated_at = mapped.updated_at
        link.gateway = mapped.gateway[:200]
        link.last_webhook = webhook
        link.save()
    return result.outcome, data.order_number


def _claim(webhook_id: int, worker: str, now: datetime) -> bool:
    with scopes_disabled():
        return bool(
            InboundWebhook.objects.filter(pk=webhook_id, state=PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + LEASE, claimed_by=worker)
        )


def _finish(
    row: InboundWebhook,
    worker: str,
    state: str,
    detail: str = "",
    *,
    next_attempt_at: datetime | None = None,
    order_number: str = "",
) -> str:
    with scopes_disabled():
        InboundWebhook.objects.filter(pk=row.pk, claimed_by=worker).update(
            state=state,
            detail=detail[:4000],
            attempts=row.attempts,
            order_number=order_number[:64] or row.order_number,
            next_attempt_at=next_attempt_at,
            processed_at=timezone.now() if state in (PROCESSED, IGNORED, FAILED) else None,
            claimed_until=None,
            claimed_by="",
        )
    return state


def _process_claimed(webhook_id: int, worker: str, now: datetime) -> str:
    with scopes_disabled():
        row = InboundWebhook.objects.select_related("merchant").get(pk=webhook_id)
    row.attempts += 1
    try:
        mapped = map_order(row.kind, parse_json(bytes(row.body)))
    except NotAnOrder as exc:
        return _finish(row, worker, IGNORED, f"Not an order: {exc}.")
    except UnmappableOrder as exc:
        return _finish(row, worker, FAILED, f"The order cannot be read: {exc}.")
    notes = "".join(f" Note: {n}." for n in mapped.notes)
    try:
        with merchant_scope(row.merchant):
            outcome, number = shop_order_apply(merchant=row.merchant, mapped=mapped, webhook=row)
    except OlderVersion as exc:
        return _finish(row, worker, IGNORED, str(exc), order_number=mapped.order.order_number)
    except (ValidationFailed, Conflict) as exc:
        return _finish(
            row,
            worker,
            FAILED,
            f"Refused: {exc.detail}",
            order_number=mapped.order.order_number,
        )
    except Exception as exc:  # the row is retried, never lost; the error is kept on it
        logger.exception("shop webhook %s failed", row.public_id)
        detail = f"{type(exc).__name__}: {exc}"
        if row.attempts > len(RETRY_AFTER):
            return _finish(row, worker, FAILED, f"Gave up after {row.attempts} attempts: {detail}")
        again = now + RETRY_AFTER[row.attempts - 1]
        return _finish(row, worker, PENDING, f"Will retry: {detail}", next_attempt_at=again)
    return _finish(row, worker, PROCESSED, f"Order {number} {outcome}.{notes}", order_number=number)


def shop_webhook_process(*, webhook_id: int, now: datetime | None = None) -> str:
    """Process one stored webhook; safe to run twice and concurrently. Answers the row's state
    after this attempt ("skipped" when another worker holds it or it is done)."""
    now = now or timezone.now()
    worker = uuid.uuid4().hex[:16]
    if not _claim(webhook_id, worker, now):
        return "skipped"
    return _process_claimed(webhook_id, worker, now)


def shop_webhooks_process_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """The worker's sweep (a periodic job): webhooks whose retry is due or whose task was lost.
    Answers how many were processed now."""
    now = now or timezone.now()
    worker = f"shop-webhooks-{uuid.uuid4().hex[:8]}"
    with scopes_disabled():
        ids = claim_due(
            InboundWebhook.objects.filter(state=PENDING),
            worker_id=worker,
            now=now,
            lease=LEASE,
            limit=limit,
        )
    return sum(_process_claimed(pk, worker, now) == PROCESSED for pk in ids)


def shop_webhook_retry(*, actor: Actor, merchant: Merchant, public_id: str) -> InboundWebhook:
    """Support sends a failed or ignored webhook through processing again (a fresh schedule).
    A rejected one never is: its signature did not hold."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            InboundWebhook.objects.select_for_update()
            .filter(merchant=merchant, public_id=public_id)
            .first()
        )
        if row is None:
            raise NotFound(f"No shop webhook {public_id}.")
        if row.state not in RETRIABLE or not row.signature_valid:
            raise Conflict(
                f"A {row.state} webhook is not processed again.", code="webhook_not_retriable"
            )
        before = row.state
        row.state, row.attempts, row.next_attempt_at = PENDING, 0, now + SWEEP_AFTER
        row.claimed_until, row.claimed_by, row.processed_at = None, "", None
        row.detail = f"Retry asked for by {actor.label}; was {before}: {row.detail}"[:4000]
        row.save()
        process_shop_webhook.enqueue(webhook_id=row.pk)
        audit_record(
            actor=actor,
            action="shop_webhook.retry",
            object_type="shop_webhook",
            object_ref=row.public_id,
            merchant_id=merchant.pk,
            changes={"state": [before, PENDING]},
        )
    return row
