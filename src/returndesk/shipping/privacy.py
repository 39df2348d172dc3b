"""A customer's personal data in shipping: the address printed on their return labels, and the
raw carrier webhooks about those labels (core/privacy.py says how the apps' privacy modules fit
together).

Erasure keeps every label with its carrier, tracking number, costs and fees (billing reads them)
and the tracking history; the sender address keeps its country only, the carrier's link to the
printed label (which shows the address) is dropped, and the raw carrier webhooks about the
labels are redacted.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from returndesk.core.privacy import REDACTED_BODY, Subject
from returndesk.shipping.models import CarrierWebhook, Label


def _labels(subject: Subject) -> QuerySet[Label]:
    return Label.objects.filter(return_request_id__in=subject.return_ids).order_by(
        "created_at", "pk"
    )


def _webhooks(subject: Subject) -> QuerySet[CarrierWebhook]:
    # Carrier webhooks have no merchant scope (they arrive before anyone knows whose).
    return CarrierWebhook.objects.filter(
        merchant_id=subject.merchant_id, label__in=_labels(subject)
    ).order_by("created_at", "pk")


def export(subject: Subject) -> dict[str, Any]:
    labels = _labels(subject).select_related("return_request").prefetch_related("tracking_events")
    hooks = list(_webhooks(subject))
    return {
        "labels": [
            {
                "id": label.public_id,
                "ran": label.return_request.ran,
                "carrier": label.carrier,
                "tracking_number": label.tracking_number,
                "ship_from": label.ship_from,
                "cost": label.cost_amount,
                "cost_currency": label.cost_currency,
                "shopper_fee": label.shopper_fee_amount,
                "status": label.status,
                "created_at": label.created_at,
                "tracking": [
                    {"status": t.status, "at": t.occurred_at, "location": t.location}
                    for t in label.tracking_events.all()
                ],
            }
            for label in labels
        ],
        "carrier_webhooks": [
            {
                "id": h.public_id,
                "carrier": h.carrier,
                "received_at": h.created_at,
                "body": bytes(h.body).decode("utf-8", "replace"),
            }
            for h in hooks
        ],
    }


def erase(subject: Subject) -> dict[str, int]:
    labels = 0
    for label in _labels(subject):
        country = str(label.ship_from.get("country", ""))
        label.ship_from = {"country": country, "lines": [country] if country else []}
        label.carrier_label_url = ""
        label.save(update_fields=["ship_from", "carrier_label_url", "updated_at"])
        labels += 1
    hooks = _webhooks(subject).update(body=REDACTED_BODY.encode())
    return {"labels": labels, "carrier_webhooks": hooks}
