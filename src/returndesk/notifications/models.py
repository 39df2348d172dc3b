"""The outbox: everything that must leave the system (webhooks, e-mails) is first a row here,
written in the same transaction as the change it announces, then delivered at least once by the
worker with `event_id` as the deduplication key."""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel
from returndesk.core.secrets import EncryptedTextField


class OutboxMessage(MerchantOwnedModel):
    # pending: not fanned out yet; delivered: fanned out into its deliveries (each delivery then
    # has its own state); failed: a fan-out handler kept failing (last_error says why)
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


# --- fan-out: each outbox row becomes deliveries, each with its own lease and retries ---------


class WebhookEndpoint(MerchantOwnedModel):
    """A merchant's receiver of webhook events (API.md: /webhook-endpoints)."""

    public_id = models.CharField(max_length=40, unique=True)
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, blank=True)  # empty: every event
    secret = EncryptedTextField()  # Standard Webhooks "whsec_..." secret, shown once
    previous_secret = EncryptedTextField(blank=True)  # still signs for a while after rotation
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)  # first failure of a streak


class WebhookDelivery(MerchantOwnedModel):
    """One event to one endpoint: retried with backoff until delivered or given up."""

    PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"

    public_id = models.CharField(max_length=40, unique=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )  # None for a test ping
    event_id = models.CharField(max_length=40)  # webhook-id: the same on every retry
    event_type = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=12, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"
            )
        ]


class WebhookAttempt(MerchantOwnedModel):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)
    manual = models.BooleanField(default=False)  # a redelivery staff asked for


class EmailDelivery(MerchantOwnedModel):
    """One transactional e-mail to a shopper for one outbox event."""

    PENDING, SENT, FAILED = "pending", "sent", "failed"

    public_id = models.CharField(max_length=40, unique=True)
    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=60)
    ran = models.CharField(max_length=13, blank=True, db_index=True)
    to_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=12, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "to_email"], name="email_once_per_event")
        ]
