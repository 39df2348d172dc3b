"""A customer's personal data in returns: the returns themselves, their lines and their timeline
(core/privacy.py says how the apps' privacy modules fit together).

Erasure keeps every return, line and timeline entry with its statuses, quantities, reasons and
amounts; the e-mails become the placeholder, the shopper's note and comments are blanked, their
photos and proof of purchase are deleted, and what the shopper typed into a timeline entry (a
cancellation's reason) is cut off.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.privacy import ERASED, Subject, texts_of, uploads_erase, uploads_export
from returndesk.returns.models import Return, ReturnEvent, ReturnLine

# Timeline entries the shopper wrote themselves (the portal's actors, portal/views/common.py).
SHOPPER_LABELS = (Actor.shopper().label, "gift recipient (portal)")


def returns_of(*, merchant_id: int, email: str, order_ids: frozenset[int]) -> QuerySet[Return]:
    """Returns asked for by this e-mail, as a gift's recipient, or on the person's orders."""
    return Return.objects.filter(
        Q(email=email)
        | Q(gift_recipient_email=email)
        | Q(customer__email=email)
        | Q(order_id__in=order_ids),
        merchant_id=merchant_id,
    )


def _shopper_said(event: ReturnEvent) -> str:
    """What the shopper typed after the fixed part of a reason ("cancelled by the shopper: …")."""
    _, _, said = event.reason.partition(": ")
    return said


def _shopper_events(return_ids: frozenset[int]) -> QuerySet[ReturnEvent]:
    return ReturnEvent.objects.filter(
        return_request_id__in=return_ids, actor_label__in=SHOPPER_LABELS
    )


def personal_texts(return_ids: frozenset[int]) -> frozenset[str]:
    """What the shopper wrote: the returns' notes, the lines' comments, their timeline words."""
    values = list(Return.objects.filter(pk__in=return_ids).values_list("note", flat=True))
    values += ReturnLine.objects.filter(return_request_id__in=return_ids).values_list(
        "comment", flat=True
    )
    values += [_shopper_said(e) for e in _shopper_events(return_ids)]
    return texts_of(values)


def _photo_ids(return_ids: frozenset[int]) -> list[str]:
    ids = [
        i
        for line in ReturnLine.objects.filter(return_request_id__in=return_ids)
        for i in line.photo_upload_ids
    ]
    proofs = Return.objects.filter(pk__in=return_ids).exclude(proof_of_purchase_upload_id="")
    return ids + list(proofs.values_list("proof_of_purchase_upload_id", flat=True))


def export(subject: Subject) -> dict[str, Any]:
    returns = (
        Return.objects.filter(pk__in=subject.return_ids)
        .select_related("order")
        .prefetch_related("lines", "events")
        .order_by("created_at", "pk")
    )
    return {
        "returns": [
            {
                "ran": r.ran,
                "order_number": r.order.order_number if r.order else r.claimed_order_number,
                "email": r.email,
                "gift": r.gift,
                "gift_recipient_email": r.gift_recipient_email,
                "status": r.status,
                "channel": r.channel,
                "resolution": r.resolution,
                "note": r.note,
                "currency": r.currency,
                "refund_estimate": r.refund_estimate_amount,
                "fees": r.fees_amount,
                "risk_score": r.risk_score,
                "risk_reasons": r.risk_reasons,
                "proof_of_purchase_upload_id": r.proof_of_purchase_upload_id or None,
                "created_at": r.created_at,
                "lines": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "reason": line.reason,
                        "comment": line.comment,
                        "photo_upload_ids": line.photo_upload_ids,
                        "exchange_sku": line.exchange_sku or None,
                        "value": line.value_amount,
                    }
                    for line in r.lines.all()
                ],
                "timeline": [
                    {
                        "type": e.type,
                        "from_status": e.from_status,
                        "to_status": e.to_status,
                        "actor": e.actor_label,
                        "reason": e.reason,
                        "payload": e.payload,
                        "at": e.created_at,
                    }
                    for e in r.events.all()
                ],
            }
            for r in returns
        ],
        "return_photos": uploads_export(
            merchant_id=subject.merchant_id, ids=_photo_ids(subject.return_ids)
        ),
    }


def erase(subject: Subject) -> dict[str, int]:
    now = timezone.now()
    photos = uploads_erase(merchant_id=subject.merchant_id, ids=_photo_ids(subject.return_ids))
    returns = Return.objects.filter(pk__in=subject.return_ids)
    returns.filter(email=subject.email).update(email=subject.placeholder)
    returns.filter(gift_recipient_email=subject.email).update(
        gift_recipient_email=subject.placeholder
    )
    changed = 0
    for ret in returns:
        ret.note = ERASED if ret.note else ""
        ret.proof_of_purchase_upload_id = ""
        ret.decision = subject.scrub(ret.decision)
        ret.risk_reasons = subject.scrub(ret.risk_reasons)
        ret.updated_at = now
        ret.save(
            update_fields=[
                "note",
                "proof_of_purchase_upload_id",
                "decision",
                "risk_reasons",
                "updated_at",
            ]
        )
        changed += 1
    lines = ReturnLine.objects.filter(return_request_id__in=subject.return_ids)
    lines.exclude(comment="").update(comment=ERASED)
    lines.update(photo_upload_ids=[], updated_at=now)
    events = 0
    for event in ReturnEvent.objects.filter(return_request_id__in=subject.return_ids):
        reason = event.reason
        if event.actor_label in SHOPPER_LABELS and _shopper_said(event):
            reason = reason.partition(": ")[0]
        reason = subject.scrub(reason)  # a return's note is its first entry's reason
        payload = subject.scrub(event.payload)
        if (reason, payload) != (event.reason, event.payload):
            event.reason, event.payload = reason, payload
            event.save(update_fields=["reason", "payload", "updated_at"])
            events += 1
    return {"returns": changed, "return_events": events, "return_photos": photos}
