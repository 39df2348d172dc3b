"""The outbox: everything that must leave the system (webhooks, e-mails) is first a row here,
written in the same transaction as the change it announces, then delivered at least once by the
worker with `event_id` as the deduplication key."""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel


class OutboxMessage(MerchantOwnedModel):
    STATE_PENDING = "pending"
    STATE_DELIVERED = "delivered"
    STATE_FAILED = "failed"

    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)
    state = models.CharField(
        max_length=16,
        default=STATE_PENDING,
        choices=[(s, s) for s in (STATE_PENDING, STATE_DELIVERED, STATE_FAILED)],
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
