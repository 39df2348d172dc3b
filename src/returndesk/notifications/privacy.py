"""A customer's personal data in notifications: the e-mails sent to them, and the events about
them queued for merchants' webhooks (core/privacy.py says how the apps' privacy modules fit
together).

Erasure keeps every row (what was sent, when, with what outcome); the recipient becomes the
placeholder, an e-mail not sent yet is given up, and the events' payloads and the deliveries'
copies name the placeholder instead of the e-mail, with the shopper's own words blanked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from returndesk.core.privacy import Subject, scrub_rows
from returndesk.notifications.models import EmailDelivery, OutboxMessage, WebhookDelivery

GIVEN_UP = "the recipient's personal data was erased before it was sent"


def _about[M: (OutboxMessage, WebhookDelivery)](rows: QuerySet[M], subject: Subject) -> QuerySet[M]:
    """Rows whose payload names the e-mail or is about one of the person's returns."""
    return (
        rows.filter(merchant_id=subject.merchant_id)
        .annotate(_payload=Cast("payload", TextField()))
        .filter(Q(_payload__icontains=subject.email) | Q(payload__data__ran__in=subject.rans))
        .order_by("pk")
    )


def _emails(subject: Subject) -> QuerySet[EmailDelivery]:
    return EmailDelivery.objects.filter(
        merchant_id=subject.merchant_id, to_email=subject.email
    ).order_by("pk")


def export(subject: Subject) -> dict[str, Any]:
    return {
        "emails": [
            {
                "to": e.to_email,
                "event_type": e.event_type,
                "ran": e.ran,
                "subject": e.subject,
                "state": e.state,
                "created_at": e.created_at,
                "sent_at": e.sent_at,
            }
            for e in _emails(subject)
        ],
        "events": [
            {"id": m.event_id, "type": m.type, "payload": m.payload, "created_at": m.created_at}
            for m in _about(OutboxMessage.objects.all(), subject)
        ],
    }


def erase(subject: Subject) -> dict[str, int]:
    emails = 0
    for delivery in _emails(subject):
        delivery.to_email = subject.placeholder
        delivery.subject = subject.scrub(delivery.subject)
        fields = ["to_email", "subject", "updated_at"]
        if delivery.state == EmailDelivery.PENDING:
            delivery.state, delivery.last_error = EmailDelivery.FAILED, GIVEN_UP
            delivery.next_attempt_at = None
            fields += ["state", "last_error", "next_attempt_at"]
        delivery.save(update_fields=fields)
        emails += 1
    rows: list[OutboxMessage | WebhookDelivery] = [
        *_about(OutboxMessage.objects.all(), subject),
        *_about(WebhookDelivery.objects.all(), subject),
    ]
    payloads = scrub_rows(rows, "payload", subject)
    return {"emails": emails, "event_payloads": payloads}
