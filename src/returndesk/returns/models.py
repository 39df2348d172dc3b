"""Returns, their lines and their timeline.

The allowed status changes are the table below (API.md, "Return status"); `lifecycle.py` is the
one place that applies them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from returndesk.core.models import MerchantOwnedModel

AUTHORIZED = "authorized"
PENDING_REVIEW = "pending_review"
REJECTED = "rejected"
CANCELLED = "cancelled"
EXPIRED = "expired"
IN_TRANSIT = "in_transit"
DELIVERED = "delivered"
LOST = "lost"
RECEIVED = "received"
INSPECTED = "inspected"
COMPLETED = "completed"
STATUSES = [
    AUTHORIZED,
    PENDING_REVIEW,
    REJECTED,
    CANCELLED,
    EXPIRED,
    IN_TRANSIT,
    DELIVERED,
    LOST,
    RECEIVED,
    INSPECTED,
    COMPLETED,
]
# from -> allowed targets. None is a new return.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({AUTHORIZED, PENDING_REVIEW, REJECTED}),
    PENDING_REVIEW: frozenset({AUTHORIZED, REJECTED, CANCELLED}),
    AUTHORIZED: frozenset({IN_TRANSIT, DELIVERED, RECEIVED, CANCELLED, EXPIRED}),
    IN_TRANSIT: frozenset({DELIVERED, RECEIVED, LOST}),
    DELIVERED: frozenset({RECEIVED}),
    LOST: frozenset({RECEIVED}),
    EXPIRED: frozenset({AUTHORIZED}),
    RECEIVED: frozenset({INSPECTED}),
    INSPECTED: frozenset({COMPLETED}),
    REJECTED: frozenset(),
    CANCELLED: frozenset(),
    COMPLETED: frozenset(),
}
# Returns in these states no longer hold the units they asked for.
RELEASED_STATUSES = frozenset({REJECTED, CANCELLED, EXPIRED})
CHANNELS = ["portal", "api", "phone", "email", "chat", "in_store", "import"]
RESOLUTIONS = ["refund", "store_credit", "exchange"]


class Return(MerchantOwnedModel):
    ran = models.CharField(max_length=13, unique=True)
    order = models.ForeignKey(
        "catalog.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    customer = models.ForeignKey(
        "catalog.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
    )
    email = models.CharField(max_length=254, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=[(s, s) for s in STATUSES], db_index=True)
    channel = models.CharField(max_length=20, choices=[(c, c) for c in CHANNELS])
    resolution = models.CharField(max_length=20, choices=[(r, r) for r in RESOLUTIONS])
    policy_version = models.ForeignKey(
        "policies.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT
    )
    decision = models.JSONField(default=dict)
    risk_score = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    risk_reasons = models.JSONField(default=list)
    currency = models.CharField(max_length=3)
    refund_estimate_amount = models.BigIntegerField(default=0)
    fees_amount = models.BigIntegerField(default=0)
    gift = models.BooleanField(default=False)
    gift_recipient_email = models.CharField(max_length=254, blank=True)
    note = models.TextField(blank=True)
    created_by_label = models.CharField(max_length=200)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    authorized_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    proof_of_purchase_upload_id = models.CharField(max_length=40, blank=True)
    # The order number the shopper gave when the order is not in the system (receipt returns).
    claimed_order_number = models.CharField(max_length=64, blank=True)
    # Where an imported return came from (e.g. "C536379/536365"): re-imports find it here.
    source_reference = models.CharField(max_length=100, blank=True)
    # Something staff must look at (a carrier's return to sender, failure or loss): the
    # console lists returns with a flag as exceptions. Set and cleared by lifecycle.py.
    exception_reason = models.TextField(blank=True)
    exception_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "-created_at"], name="return_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source_reference"],
                condition=~models.Q(source_reference=""),
                name="return_source_reference_once",
            )
        ]

    def __str__(self) -> str:
        return self.ran


class ReturnLine(MerchantOwnedModel):
    """A line of the order that this return covers, with the units the policy allowed."""

    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    # Empty for a return that rests on a receipt for an order not in the system.
    order_line = models.ForeignKey(
        "catalog.OrderLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="return_lines",
    )
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=50)
    comment = models.TextField(blank=True)
    photo_upload_ids = models.JSONField(default=list, blank=True)
    exchange_sku = models.CharField(max_length=64, blank=True)
    exchange_quantity = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    value_amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"


class ReturnEvent(MerchantOwnedModel):
    """The timeline: append-only, one row per change, written with the change."""

    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    public_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=60)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor_label = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.created_at}"
