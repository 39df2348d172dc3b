"""Writing to the outbox. Delivery (e-mails, merchant webhooks) reads these rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from returndesk.core.ids import new_public_id
from returndesk.notifications.models import OutboxMessage


def outbox_enqueue(
    *,
    merchant_id: int,
    type: str,
    data: dict[str, Any],
    event_id: str | None = None,
    at: datetime | None = None,
) -> OutboxMessage:
    """Queue an event for delivery; call inside the transaction that made the change."""
    when = at or timezone.now()
    event_id = event_id or new_public_id("evt")
    return OutboxMessage.objects.create(
        merchant_id=merchant_id,
        event_id=event_id,
        type=type,
        payload={"id": event_id, "type": type, "timestamp": when.isoformat(), "data": data},
        next_attempt_at=when,
    )
