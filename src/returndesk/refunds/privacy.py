"""A customer's personal data in refunds (core/privacy.py says how the apps' privacy modules fit
together).

Settlements, refunds, attempts, adjustments and exchanges are financial records: erasure leaves
them whole (they name the return and the order, never the person). What it does change is the
raw payment-provider events about the person's payments, which copy the card holder's name,
e-mail and address (a Stripe charge's billing details): their bodies are redacted, their ids,
types and outcomes kept.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet

from returndesk.core.privacy import REDACTED_BODY, Subject, scrub_rows
from returndesk.refunds.models import Adjustment, Exchange, PaymentWebhook, Refund, Settlement


def _payment_webhooks(subject: Subject) -> QuerySet[PaymentWebhook]:
    refunds = Refund.objects.filter(return_request_id__in=subject.return_ids)
    needles = {subject.email}
    for payment, reference in refunds.values_list("payment_reference", "provider_reference"):
        needles |= {payment, reference}
    exchanges = Exchange.objects.filter(return_request_id__in=subject.return_ids)
    needles |= set(exchanges.values_list("collection_reference", flat=True))
    # A reference shorter than a real provider id would match unrelated events.
    wanted = [n for n in needles if n == subject.email or len(n) >= 6]
    mentions = reduce(or_, (Q(body__icontains=n) for n in wanted))
    return PaymentWebhook.objects.filter(mentions, merchant_id=subject.merchant_id).order_by(
        "created_at", "pk"
    )


def export(subject: Subject) -> dict[str, Any]:
    ids = subject.return_ids
    return {
        "settlements": [
            {
                "id": s.public_id,
                "ran": s.return_request.ran,
                "resolution": s.resolution,
                "total": s.total_amount,
                "currency": s.currency,
                "created_at": s.created_at,
            }
            for s in Settlement.objects.filter(return_request_id__in=ids)
            .select_related("return_request")
            .order_by("created_at", "pk")
        ],
        "refunds": [
            {
                "id": r.public_id,
                "method": r.method,
                "provider": r.provider,
                "amount": r.amount,
                "currency": r.currency,
                "status": r.status,
                "created_at": r.created_at,
                "succeeded_at": r.succeeded_at,
            }
            for r in Refund.objects.filter(return_request_id__in=ids).order_by("created_at", "pk")
        ],
        "adjustments": [
            {
                "id": a.public_id,
                "cause": a.cause,
                "findings": a.findings,
                "amount": a.amount,
                "currency": a.currency,
                "status": a.status,
                "action": a.action,
            }
            for a in Adjustment.objects.filter(return_request_id__in=ids).order_by("pk")
        ],
        "exchanges": [
            {
                "id": x.public_id,
                "sku": x.sku,
                "quantity": x.quantity,
                "price": x.price_amount,
                "difference": x.difference_amount,
                "currency": x.currency,
                "status": x.status,
                "events": x.events,
            }
            for x in Exchange.objects.filter(return_request_id__in=ids).order_by("pk")
        ],
        "payment_webhooks": [
            {
                "id": w.public_id,
                "provider": w.provider,
                "event_type": w.event_type,
                "received_at": w.created_at,
                "body": w.body,
            }
            for w in _payment_webhooks(subject)
        ],
    }


def erase(subject: Subject) -> dict[str, int]:
    redacted = _payment_webhooks(subject).update(body=REDACTED_BODY)
    exchanges = Exchange.objects.filter(return_request_id__in=subject.return_ids)
    scrubbed = scrub_rows(exchanges, "events", subject)
    return {"payment_webhooks": redacted, "exchanges": scrubbed}
