"""Inbound payment-provider webhooks (Stripe): stored raw first, processed by the worker.

`payment_webhook_receive` checks the signature with the merchant's webhook secret (the
library's own check) and stores the body whatever the outcome: a refused one as rejected (the
caller answers 401), a verified one queued. An event id already stored is a duplicate and is
not processed again. `payment_webhooks_process_due` (a periodic job, also run right after
receipt) applies each event: a refund Stripe confirms succeeds, one it reports failed fails
(visible, with Stripe's reason and a retry action), and a paid checkout releases its exchange.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.ids import new_public_id
from returndesk.core.leases import claim_due
from returndesk.core.tenancy import merchant_scope
from returndesk.refunds.models import FAILED, SUCCEEDED, PaymentWebhook, Refund
from returndesk.refunds.providers.base import WebhookSignatureInvalid
from returndesk.refunds.providers.stripe import StripeRefundEvent, stripe_event
from returndesk.refunds.services import payment_settings_for, refund_fail, refund_succeed
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

STRIPE_ACTOR = Actor.system("Stripe webhook")
KEPT = ("Stripe-Signature", "Content-Type", "User-Agent")
LEASE = timedelta(minutes=2)


class PaymentWebhookRejected(ApplicationError):
    code = "unauthenticated"
    status = 401
    title = "Unauthenticated"


@dataclass(frozen=True)
class Received:
    id: str
    status: str  # accepted | duplicate
    pk: int


def _peek(body: bytes) -> tuple[str, str]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "", ""
    if not isinstance(event, dict):
        return "", ""
    return str(event.get("id") or "")[:200], str(event.get("type") or "")[:100]


def payment_webhook_receive(
    *, merchant_slug: str, provider: str, body: bytes, headers: Mapping[str, str]
) -> Received:
    if provider != "stripe":
        raise NotFound(f"No payment provider '{provider}' sends webhooks here.")
    with scopes_disabled():
        merchant = Merchant.objects.filter(slug=merchant_slug).first()
    if merchant is None:
        raise NotFound(f"No merchant '{merchant_slug}'.")
    kept = {name: headers[name] for name in KEPT if headers.get(name) is not None}
    # Kept as text for support; PostgreSQL text cannot hold NUL, which no real event has.
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    event_id, event_type = (part.replace("\x00", "\ufffd") for part in _peek(body))
    with merchant_scope(merchant):
        secret = payment_settings_for(merchant.pk).stripe_webhook_secret
        try:
            event = stripe_event(body, headers.get("Stripe-Signature") or "", secret)
        except (WebhookSignatureInvalid, ValueError) as exc:
            PaymentWebhook.objects.create(
                merchant=merchant,
                public_id=new_public_id("pwh"),
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                body=text,
                headers=kept,
                verified=False,
                rejection=str(exc)[:200],
            )
            logger.warning("payment webhook for %s refused: %s", merchant_slug, exc)
            raise PaymentWebhookRejected(str(exc)) from None
        try:
            with transaction.atomic():
                row = PaymentWebhook.objects.create(
                    merchant=merchant,
                    public_id=new_public_id("pwh"),
                    provider=provider,
                    event_id=event.event_id,
                    event_type=event.type,
                    body=text,
                    headers=kept,
                    verified=True,
                    next_attempt_at=timezone.now(),
                )
        except IntegrityError:
            first = PaymentWebhook.objects.get(
                provider=provider, event_id=event.event_id, verified=True
            )
            return Received(first.public_id, "duplicate", first.pk)
    return Received(row.public_id, "accepted", row.pk)


def _apply(merchant_id: int, event: StripeRefundEvent) -> str:
    if not event.handled:
        return f"ignored: {event.type} is not read"
    applied: list[str] = []
    for update in event.refunds:
        query = Q(provider_reference=update.reference) if update.reference else Q(pk__in=[])
        if update.refund_id:
            query |= Q(public_id=update.refund_id)
        with transaction.atomic():
            refund = (
                Refund.objects.select_for_update(of=("self",))
                .select_related("return_request", "settlement")
                .filter(provider="stripe")
                .filter(query)
                .first()
            )
            if refund is None:
                applied.append(f"{update.reference}: not one of ours")
                continue
            if update.reference and not refund.provider_reference:
                refund.provider_reference = update.reference
            if update.status == "succeeded" and refund.status != SUCCEEDED:
                refund_succeed(refund=refund, reference=update.reference, actor=STRIPE_ACTOR)
            elif update.status == "failed" and refund.status != FAILED:
                refund_fail(
                    refund=refund,
                    message=f"Stripe: {update.message or 'the refund failed'}",
                    actor=STRIPE_ACTOR,
                )
            elif refund.provider_reference and update.reference:
                refund.save(update_fields=["provider_reference", "updated_at"])
            applied.append(f"{refund.public_id}: {refund.status}")
    if event.collection is not None and event.collection.status == "paid":
        try:
            from returndesk.refunds import exchanges
        except ImportError:  # pragma: no cover - exchanges ship with the refunds app
            return "collection paid; exchanges are not installed"
        exchanges.exchange_collection_paid(
            merchant_id=merchant_id, reference=event.collection.reference, actor=STRIPE_ACTOR
        )
        applied.append(f"collection {event.collection.reference}: paid")
    return "; ".join(applied) or "nothing to apply"


def payment_webhook_process(pk: int) -> str:
    """Apply one stored webhook (idempotent: a refund already in the reported state is left)."""
    with scopes_disabled():
        row = PaymentWebhook._base_manager.get(pk=pk)
    if row.processed_at is not None or not row.verified:
        return row.outcome
    with merchant_scope(row.merchant_id):
        secret = payment_settings_for(row.merchant_id).stripe_webhook_secret
        try:
            # Checked when it arrived; read again here without the age limit.
            event = stripe_event(
                row.body.encode(), row.headers.get("Stripe-Signature", ""), secret, tolerance=0
            )
            outcome = _apply(row.merchant_id, event)
        except Exception as exc:
            logger.exception("payment webhook %s failed", row.public_id)
            PaymentWebhook._base_manager.filter(pk=pk).update(
                attempts=row.attempts + 1,
                outcome=f"error: {type(exc).__name__}: {exc}"[:200],
                next_attempt_at=timezone.now() + timedelta(minutes=2 ** min(row.attempts, 8)),
                claimed_until=None,
            )
            return "error"
    PaymentWebhook._base_manager.filter(pk=pk).update(
        processed_at=timezone.now(),
        outcome=outcome[:200],
        attempts=row.attempts + 1,
        claimed_until=None,
    )
    return outcome


def payment_webhooks_process_due(limit: int = 100) -> int:
    """The worker's job: apply stored webhooks not yet processed (a retry or a lost run)."""
    with scopes_disabled():
        ids = claim_due(
            PaymentWebhook._base_manager.filter(verified=True, processed_at__isnull=True),
            worker_id="payment-webhooks",
            now=timezone.now(),
            lease=LEASE,
            limit=limit,
        )
    for pk in ids:
        payment_webhook_process(pk)
    return len(ids)
