"""Shop integrations: each merchant's connections to Shopify and WooCommerce, the order webhooks
they send (stored raw before anything reads them), which shop order became which ReturnDesk order
(with the shop's last change, so an older version never overwrites a newer one), and the refunds
written back to Shopify. docs/integrations.md."""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel
from returndesk.core.secrets import EncryptedTextField
from returndesk.integrations.mapping import SHOPIFY, WOOCOMMERCE

KINDS = (SHOPIFY, WOOCOMMERCE)
DEFAULT_SHOPIFY_API_VERSION = "2024-10"

# Inbound webhooks: pending (stored, to be processed), processed (the order was written or was
# already as sent), ignored (nothing to do: another topic, a ping, an older version of the
# order, a disabled connection), failed (could not be read or refused by the catalogue: support
# looks and can retry), rejected (unsigned or tampered: never processed).
PENDING, PROCESSED, IGNORED, FAILED, REJECTED = (
    "pending",
    "processed",
    "ignored",
    "failed",
    "rejected",
)
WEBHOOK_STATES = (PENDING, PROCESSED, IGNORED, FAILED, REJECTED)
# Write-backs: pending (to be sent, or retried), succeeded, failed (given up or refused by
# Shopify: support looks and can retry).
WB_PENDING, WB_SUCCEEDED, WB_FAILED = "pending", "succeeded", "failed"
WRITE_BACK_STATES = (WB_PENDING, WB_SUCCEEDED, WB_FAILED)


class ShopConnection(MerchantOwnedModel):
    """A merchant's store on Shopify or WooCommerce. Secrets are encrypted and write-only."""

    kind = models.CharField(max_length=16, choices=[(k, k) for k in KINDS])
    # Shopify: the shop's myshopify.com domain; WooCommerce: the store's base URL.
    shop_url = models.CharField(max_length=300, blank=True)
    webhook_secret = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)  # Shopify Admin API token (write-back)
    api_version = models.CharField(max_length=10, default=DEFAULT_SHOPIFY_API_VERSION)
    write_back_refunds = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "kind"], name="shop_connection_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.shop_url}"


class InboundWebhook(MerchantOwnedModel):
    """One order webhook from a shop, exactly as it arrived: the durable work row that the
    worker processes (claimed with a lease, retried) and the record support reads."""

    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=[(k, k) for k in KINDS])
    topic = models.CharField(max_length=100, blank=True)
    delivery_id = models.CharField(max_length=200, blank=True)  # the sender's, for dedup
    resource_id = models.CharField(max_length=64, blank=True)  # the shop's order id
    body = models.BinaryField()  # exactly the bytes that were signed
    headers = models.JSONField(default=dict)  # the ones needed to check it again
    signature_valid = models.BooleanField(default=False)
    state = models.CharField(max_length=12, choices=[(s, s) for s in WEBHOOK_STATES])
    detail = models.TextField(blank=True)  # why it was rejected, ignored or failed
    order_number = models.CharField(max_length=64, blank=True, db_index=True)  # what it wrote
    duplicates = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Only signed deliveries count: a forged one must not take a real delivery's id.
            models.UniqueConstraint(
                fields=["merchant", "kind", "delivery_id"],
                condition=models.Q(signature_valid=True) & ~models.Q(delivery_id=""),
                name="shop_webhook_delivery_once",
            )
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="shop_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.topic} {self.public_id} ({self.state})"


class ShopOrder(MerchantOwnedModel):
    """Which shop order is which ReturnDesk order, and the shop's last change applied to it."""

    kind = models.CharField(max_length=16, choices=[(k, k) for k in KINDS])
    external_id = models.CharField(max_length=64)  # the shop's order id, exactly (a string)
    order = models.OneToOneField(
        "catalog.Order", on_delete=models.CASCADE, related_name="shop_order"
    )
    source_updated_at = models.DateTimeField()  # the shop's updated_at of the version applied
    gateway = models.CharField(max_length=200, blank=True)
    last_webhook = models.ForeignKey(
        InboundWebhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "external_id"], name="shop_order_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id}"


class ShopWriteBack(MerchantOwnedModel):
    """A ReturnDesk refund told to Shopify: one row per refund (the fan-out may run twice), sent
    by the worker with a lease, retries and backoff, failures kept visible."""

    public_id = models.CharField(max_length=40, unique=True)
    refund_id = models.CharField(max_length=40, unique=True)  # ReturnDesk's refund public id
    event_id = models.CharField(max_length=40)  # the outbox event it came from
    shop_order = models.ForeignKey(ShopOrder, on_delete=models.PROTECT, related_name="write_backs")
    ran = models.CharField(max_length=13, blank=True)
    settlement = models.CharField(max_length=40, blank=True)
    # The settlement's lines and shipping go with its first refund only; a settlement paid to
    # two tenders is two refunds, and Shopify must not count the items twice.
    carries_lines = models.BooleanField(default=False)
    lines = models.JSONField(default=list)  # [{"line_id": "...", "quantity": 1}]
    shipping_amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    method = models.CharField(max_length=20)
    provider = models.CharField(max_length=20)
    provider_reference = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=12, choices=[(s, s) for s in WRITE_BACK_STATES], default=WB_PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    retry_from = models.PositiveIntegerField(default=0)  # attempts made before support's retry
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    request_body = models.JSONField(default=dict, blank=True)  # what was last sent
    shop_refund_id = models.CharField(max_length=64, blank=True)  # Shopify's refund id
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "settlement"],
                condition=models.Q(carries_lines=True),
                name="shop_write_back_lines_once",
            )
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="shop_write_back_recent")]

    def __str__(self) -> str:
        return f"{self.refund_id} -> shopify ({self.state})"
