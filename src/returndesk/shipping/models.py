"""How a merchant's returns travel: its carriers and facility routing, and each return's label
(or drop-off code)."""

from __future__ import annotations

from django.db import models

from returndesk.core.ids import new_public_id
from returndesk.core.models import MerchantOwnedModel, TimeStampedModel

MODE_LABEL = "label"
MODE_DROPOFF = "dropoff"
MODES = [(MODE_LABEL, "a prepaid label"), (MODE_DROPOFF, "a box-free drop-off code")]
CARRIER_CODES = ["prepaid", "easypost"]

ACTIVE = "active"
# Released with its return: voided at the carrier after the commit, retried by the worker until
# the carrier accepts.
VOID_PENDING = "void_pending"
VOIDED = "voided"
LABEL_STATUSES = [ACTIVE, VOID_PENDING, VOIDED]

PAID_BY_CUSTOMER = "customer"
PAID_BY_MERCHANT = "merchant"


class CarrierSettings(MerchantOwnedModel):
    """A merchant's choices: which carriers, in order of preference, and label or drop-off.
    A merchant without a row gets the provider's prepaid label."""

    carriers = models.JSONField(default=list)  # e.g. ["easypost", "prepaid"]
    mode = models.CharField(max_length=16, choices=MODES, default=MODE_LABEL)
    easypost_services = models.JSONField(default=list, blank=True)  # e.g. ["GroundAdvantage"]
    easypost_carrier_accounts = models.JSONField(default=list, blank=True)
    # what the provider charges the merchant for one of its own prepaid labels
    prepaid_cost_amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant"], name="carrier_settings_once")]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {', '.join(self.carriers)}"


def new_route_id() -> str:
    return new_public_id("rte")


class FacilityRoute(MerchantOwnedModel):
    """Returns from a country (and region, when given) go to a facility. The most specific
    route wins (region over country over the catch-all with both empty), then `priority`."""

    public_id = models.CharField(max_length=40, unique=True, default=new_route_id)
    facility = models.ForeignKey("tenants.Facility", on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=100, blank=True)
    priority = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.country or '*'}/{self.region or '*'} -> {self.facility_id}"


class Label(MerchantOwnedModel):
    """What lets a return travel: a carrier label, or a drop-off code for a box-free return.

    At most one active label per return; a voided one stays for the record and for billing.
    """

    public_id = models.CharField(max_length=40, unique=True)
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.CASCADE, related_name="labels"
    )
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=MODES)
    adapter = models.CharField(max_length=20, blank=True)  # "prepaid", "easypost"
    carrier = models.CharField(max_length=60, blank=True)  # who moves it: USPS, ReturnDesk
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    dropoff_code = models.CharField(max_length=20, blank=True)
    external_id = models.CharField(max_length=100, blank=True)  # the carrier's shipment id
    tracker_id = models.CharField(max_length=100, blank=True)
    carrier_label_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=[(s, s) for s in LABEL_STATUSES], default=ACTIVE
    )
    paid_by = models.CharField(
        max_length=16, choices=[(PAID_BY_CUSTOMER, "customer"), (PAID_BY_MERCHANT, "merchant")]
    )
    # What the carrier charged, in the carrier's currency.
    cost_currency = models.CharField(max_length=3)
    cost_amount = models.BigIntegerField(default=0)
    # The policy's return shipping fee, deducted from the shopper's refund (return currency).
    currency = models.CharField(max_length=3)
    shopper_fee_amount = models.BigIntegerField(default=0)
    # What the merchant bears, for billing (cost currency): the cost less the shopper's fee.
    merchant_cost_amount = models.BigIntegerField(default=0)
    weight_grams = models.PositiveIntegerField(default=0)
    ship_from = models.JSONField(default=dict)  # the shopper's address as printed
    ship_to = models.JSONField(default=dict)  # the facility's
    created_by_label = models.CharField(max_length=200)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    void_attempts = models.PositiveIntegerField(default=0)
    void_error = models.TextField(blank=True)
    # Tracking, summed up from its TrackingEvent history (shipping/tracking.py): the current
    # carrier status never goes back to an earlier stage, whatever order events arrive in.
    tracking_status = models.CharField(max_length=24, blank=True)
    tracking_status_at = models.DateTimeField(null=True, blank=True)
    tracking_updated_at = models.DateTimeField(null=True, blank=True)
    tracking_polled_at = models.DateTimeField(null=True, blank=True)
    first_scan_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The label's PDF as first printed, kept in the default storage (a folder or an S3
    # bucket): every later print is the same document (services.label_pdf).
    document = models.FileField(upload_to="labels/%Y/%m/", blank=True, max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["return_request"],
                condition=models.Q(status="active"),
                name="label_one_active_per_return",
            ),
            models.UniqueConstraint(
                fields=["adapter", "tracking_number"],
                condition=~models.Q(tracking_number=""),
                name="label_tracking_number_once",
            ),
            models.UniqueConstraint(
                fields=["dropoff_code"],
                condition=~models.Q(dropoff_code=""),
                name="label_dropoff_code_once",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


# Inbound carrier webhooks (shipping/tracking.py, docs/tracking-webhooks.md).
FORMAT_EASYPOST = "easypost"
FORMAT_GENERIC = "generic"
WEBHOOK_PENDING = "pending"  # stored, signature good, waiting for (or between) processing
WEBHOOK_PROCESSED = "processed"
WEBHOOK_REJECTED = "rejected"  # unsigned, tampered or stale: never processed
WEBHOOK_UNMATCHED = "unmatched"  # no label has its tracking number: flagged, checked again
WEBHOOK_IGNORED = "ignored"  # signed, but not a tracking event (another EasyPost event type)
WEBHOOK_FAILED = "failed"  # signed but unreadable, or processing kept failing
WEBHOOK_STATES = [
    WEBHOOK_PENDING,
    WEBHOOK_PROCESSED,
    WEBHOOK_REJECTED,
    WEBHOOK_UNMATCHED,
    WEBHOOK_IGNORED,
    WEBHOOK_FAILED,
]


class CarrierWebhook(TimeStampedModel):
    """One inbound carrier webhook, stored raw before anything reads it: the durable work row
    that a task processes (claimed with a lease, retried), and the record of what came in.

    Not a merchant's row: it arrives before anyone knows whose parcel it is; `merchant` and
    `label` are filled once its tracking number is matched.
    """

    public_id = models.CharField(max_length=40, unique=True)
    carrier = models.CharField(max_length=20)  # the path's carrier, an adapter code
    format = models.CharField(
        max_length=16, choices=[(FORMAT_EASYPOST, "EasyPost"), (FORMAT_GENERIC, "generic")]
    )
    event_id = models.CharField(max_length=200, blank=True)  # the sender's, for deduplication
    body = models.BinaryField()  # exactly the bytes that were signed
    headers = models.JSONField(default=dict)  # the ones needed to check it again
    signature_valid = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=[(s, s) for s in WEBHOOK_STATES], db_index=True)
    detail = models.TextField(blank=True)  # why it was rejected, unmatched or failed
    tracking_number = models.CharField(max_length=64, blank=True, db_index=True)
    merchant = models.ForeignKey(
        "tenants.Merchant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhooks"
    )
    duplicates = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Only signed deliveries count: a forged one must not claim a real event's id.
            models.UniqueConstraint(
                fields=["carrier", "event_id"],
                condition=models.Q(signature_valid=True) & ~models.Q(event_id=""),
                name="carrier_webhook_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.event_id or self.public_id} ({self.state})"


class TrackingEvent(MerchantOwnedModel):
    """One carrier scan of a label: the full history, kept whatever order it arrived in and
    however often (the same scan is stored once per label)."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="tracking_events")
    status = models.CharField(max_length=24)  # normalized (shipping/tracking.py STATUSES)
    carrier_status = models.CharField(max_length=100, blank=True)  # as the carrier said it
    occurred_at = models.DateTimeField()
    message = models.TextField(blank=True)
    location = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16)  # webhook, poll
    webhook = models.ForeignKey(
        CarrierWebhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["label", "fingerprint"], name="tracking_event_once_per_label"
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.occurred_at}"
