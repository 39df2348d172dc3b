"""Refund rows: what was settled for a return, each payment to a tender, every provider call,
and the adjustments that later facts open. docs/refunds.md, "Paying it"; decision 0011.

- A `Settlement` is one calculation paid out: the units it covered, the figures line by line
  (the calculator's whole answer), and its total. Settlements of a return are numbered, and
  (return, number) is unique, so two writers that both thought something was due cannot both
  record it.
- A `Refund` is one payment to one tender (or to store credit, or by hand): one provider call
  with one idempotency key that never changes, however many attempts it takes.
- A `RefundAttempt` is written before each provider call and closed after it, so a worker killed
  in between leaves an open attempt that the next one resolves with the same key.
- An `Adjustment` records money paid that later facts took back: staff resolve it.
- A `RefundTrigger` is a durable "look at this return's money" row, written by the transition
  that made something due (a scan, the receipt, the inspection) and claimed by the worker.
"""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel
from returndesk.core.secrets import EncryptedTextField
from returndesk.refunds.tenders import ALLOCATION_RULES, DEFAULT_ALLOCATION_RULE

PENDING, PROCESSING, SUCCEEDED, FAILED = "pending", "processing", "succeeded", "failed"
REFUND_STATUSES = (PENDING, PROCESSING, SUCCEEDED, FAILED)

# What a refund pays back through: a payment provider, an internal ledger, or finance by hand.
KIND_PAYMENT, KIND_STORE_CREDIT, KIND_GIFT_CARD, KIND_MANUAL = (
    "payment",
    "store_credit",
    "gift_card",
    "manual",
)
KINDS = (KIND_PAYMENT, KIND_STORE_CREDIT, KIND_GIFT_CARD, KIND_MANUAL)

OPEN, RESOLVED = "open", "resolved"
ADJUSTMENT_ACTIONS = ("charge_back", "carrier_claim", "write_off")

# The stages at which money can become due, in the order a return reaches them.
STAGES = ("authorization", "first_scan", "delivery", "receipt", "inspection")


class PaymentSettings(MerchantOwnedModel):
    """How a merchant's refunds are paid: the tender rule and each provider's credentials."""

    allocation_rule = models.CharField(
        max_length=20, choices=[(r, r) for r in ALLOCATION_RULES], default=DEFAULT_ALLOCATION_RULE
    )
    stripe_secret_key = EncryptedTextField(blank=True)
    stripe_webhook_secret = EncryptedTextField(blank=True)
    paypal_client_id = models.CharField(max_length=200, blank=True)
    paypal_client_secret = EncryptedTextField(blank=True)
    paypal_environment = models.CharField(
        max_length=8, choices=[("sandbox", "sandbox"), ("live", "live")], default="sandbox"
    )
    max_attempts = models.PositiveSmallIntegerField(default=6)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="payment_settings_per_merchant")
        ]


class Settlement(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="settlements"
    )
    # None for a return resting on a receipt for an order not in the system
    order = models.ForeignKey(
        "catalog.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveIntegerField()  # 1, 2, ... within the return
    stage = models.CharField(max_length=20)  # what made it due: one of STAGES
    resolution = models.CharField(max_length=20)  # refund | store_credit | exchange
    currency = models.CharField(max_length=3)
    total_amount = models.BigIntegerField()
    bonus_amount = models.BigIntegerField(default=0)  # store credit bonus, merchant's money
    shipping_amount = models.BigIntegerField(default=0)  # the order's shipping refunded
    return_fee_amount = models.BigIntegerField(default=0)  # the return shipping fee taken
    units = models.JSONField(default=dict)  # line_id -> units covered
    line_amounts = models.JSONField(default=dict)  # line_id -> amount refunded for the line
    calculation = models.JSONField(default=dict)  # the calculator's whole answer
    created_by_label = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "number"], name="settlement_number_per_return"
            )
        ]


class Refund(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="refunds")
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="refunds"
    )
    tender = models.ForeignKey(
        "catalog.Tender", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=[(k, k) for k in KINDS])
    method = models.CharField(max_length=20)  # the tender's method, or store_credit
    provider = models.CharField(max_length=20)  # stripe, paypal, store_credit, gift_card, manual
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    bonus_amount = models.BigIntegerField(default=0)  # store credit only
    payment_reference = models.CharField(max_length=200, blank=True)  # the charge/capture
    status = models.CharField(
        max_length=12, choices=[(s, s) for s in REFUND_STATUSES], default=PENDING, db_index=True
    )
    idempotency_key = models.CharField(max_length=80, unique=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    failure_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    retry_from = models.PositiveIntegerField(default=0)  # attempts made before the last retry
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    marked_paid_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~models.Q(provider_reference=""),
                name="refund_provider_reference_once",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_positive"),
        ]
        indexes = [models.Index(fields=["merchant", "status", "-created_at"], name="refund_queue")]


class RefundAttempt(MerchantOwnedModel):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # in_flight until answered; then succeeded, pending, failed (the provider said no) or
    # error (no trustworthy answer: retried with the same key)
    outcome = models.CharField(max_length=12, default="in_flight")
    message = models.TextField(blank=True)
    response = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["refund", "number"], name="refund_attempt_number")
        ]


class Adjustment(MerchantOwnedModel):
    public_id = models.CharField(max_length=40, unique=True)
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="adjustments"
    )
    # what opened it: inspection (empty box, wrong item, a grade), not_received, expired, lost,
    # cancelled; once per return and cause, so running the check twice opens one
    cause = models.CharField(max_length=20)
    findings = models.JSONField(default=list, blank=True)  # the facts behind it, for people
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()  # paid beyond what the facts now make due
    status = models.CharField(
        max_length=10, choices=[(OPEN, OPEN), (RESOLVED, RESOLVED)], default=OPEN, db_index=True
    )
    action = models.CharField(
        max_length=16, blank=True, choices=[(a, a) for a in ADJUSTMENT_ACTIONS]
    )
    note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "cause"], name="adjustment_once_per_cause"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="adjustment_positive"),
        ]


class RefundTrigger(MerchantOwnedModel):
    """Durable work: check what is due for a return (written in the transition's transaction)."""

    return_request = models.ForeignKey("returns.Return", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20)  # the status the return reached
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "status"], name="refund_trigger_once_per_status"
            )
        ]


class PaymentWebhook(MerchantOwnedModel):
    """An inbound payment-provider event, stored raw before anything else happens to it."""

    public_id = models.CharField(max_length=40, unique=True)
    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=200, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    headers = models.JSONField(default=dict)
    verified = models.BooleanField(default=False)
    rejection = models.CharField(max_length=200, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "provider", "event_id"],
                condition=models.Q(verified=True) & ~models.Q(event_id=""),
                name="payment_webhook_event_once",
            )
        ]


REQUESTED, AWAITING_PAYMENT, RELEASED, FULFILLED, CANCELLED = (
    "requested",
    "awaiting_payment",
    "released",
    "fulfilled",
    "cancelled",
)
EXCHANGE_STATUSES = (REQUESTED, AWAITING_PAYMENT, RELEASED, FULFILLED, CANCELLED)
EXCHANGE_TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({AWAITING_PAYMENT, RELEASED, CANCELLED}),
    AWAITING_PAYMENT: frozenset({RELEASED, CANCELLED}),
    RELEASED: frozenset({FULFILLED, CANCELLED}),
    FULFILLED: frozenset(),
    CANCELLED: frozenset(),
}


class Exchange(MerchantOwnedModel):
    """A replacement for a returned line (`exchange_for`), with its own status. The returned
    units' value pays for it; a difference owed to the shopper is refunded like any refund, one
    owed by the shopper is collected (a provider payment link) or marked paid by staff."""

    public_id = models.CharField(max_length=40, unique=True)
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="exchanges"
    )
    return_line = models.OneToOneField(
        "returns.ReturnLine", on_delete=models.PROTECT, related_name="exchange"
    )
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=300, blank=True)
    quantity = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    price_amount = models.BigIntegerField()  # the replacement, all units
    credit_amount = models.BigIntegerField(default=0)  # what the returned units are worth now
    # price - credit: above zero the shopper owes it, below zero it is refunded to them
    difference_amount = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=[(s, s) for s in EXCHANGE_STATUSES], default=REQUESTED
    )
    instant = models.BooleanField(default=False)  # released before the return arrives
    collection_provider = models.CharField(max_length=20, blank=True)
    collection_reference = models.CharField(max_length=200, blank=True)
    collection_url = models.URLField(max_length=1000, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_reference = models.CharField(max_length=200, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    merchant_order_reference = models.CharField(max_length=200, blank=True)
    cancelled_reason = models.TextField(blank=True)
    events = models.JSONField(default=list, blank=True)  # [{status, at, actor, note}]
    # how the credit was worked out: the calculator's line for the returned units, and the stage
    # (authorization, receipt, inspection) whose facts fixed it (exchanges.py)
    calculation = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection_provider", "collection_reference"],
                condition=~models.Q(collection_reference=""),
                name="exchange_collection_once",
            )
        ]
