"""Receiving at the provider's facilities: what arrived (a receipt per return, with what the box
held line by line) and what arrived without a match (unidentified packages).

Inspection builds on `ReceiptLine`: a line's received units are numbered 1..received_quantity
(API.md, `unit`), and each is inspected once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from returndesk.core.models import MerchantOwnedModel, TimeStampedModel

# How a scanned code found its return.
MATCHED_TRACKING = "tracking"
MATCHED_DROPOFF = "dropoff"
MATCHED_RAN = "ran"
MATCHED_LINK = "link"  # an unidentified package linked to its return afterwards
MATCHES = [MATCHED_TRACKING, MATCHED_DROPOFF, MATCHED_RAN, MATCHED_LINK]

OPEN = "open"  # scanned; what the box held is not recorded yet
CLOSED = "closed"  # the box is recorded; received quantities are final
STATES = [OPEN, CLOSED]

PACKAGE_CONDITIONS = ["intact", "damaged", "opened", "wet", "unpackaged"]


class Receipt(MerchantOwnedModel):
    """A package received for a return at a facility: one per return (R3 of QUALITY.md).

    `exception_kind` is the return's status when it could not be received (pending_review,
    cancelled, expired, rejected, or already past receiving): the receipt is kept, linked to the
    return, the return is flagged for staff and its status stays. When staff make the return
    receivable and the package is scanned again, the same receipt receives it and
    `exception_resolved_at` is set.
    """

    public_id = models.CharField(max_length=40, unique=True)
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="receipts"
    )
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=100)  # as scanned
    matched_by = models.CharField(max_length=16, choices=[(m, m) for m in MATCHES])
    received_at = models.DateTimeField()
    received_by_label = models.CharField(max_length=200)
    received_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_by_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=8, choices=[(s, s) for s in STATES], default=OPEN)
    exception_kind = models.CharField(max_length=20, blank=True)
    exception_resolved_at = models.DateTimeField(null=True, blank=True)
    # What the box was like, recorded with its contents (PUT /receipts/{id}).
    package_condition = models.CharField(
        max_length=16, choices=[(c, c) for c in PACKAGE_CONDITIONS], blank=True
    )
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    photo_upload_ids = models.JSONField(default=list, blank=True)
    # Items in the box that the return did not ask for: [{"description", "quantity", "sku"}].
    extra_items = models.JSONField(default=list, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    recorded_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            # Two stations scanning one package at once: the return's row lock serializes them,
            # and this makes a second receipt impossible whatever the code path.
            models.UniqueConstraint(fields=["return_request"], name="receipt_one_per_return")
        ]
        indexes = [
            models.Index(fields=["facility", "-received_at"], name="receipt_facility_recent"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_exception(self) -> bool:
        return bool(self.exception_kind) and self.exception_resolved_at is None


class ReceiptLine(MerchantOwnedModel):
    """One line of the return as found in the box: expected and received units, the units
    missing, and a wrong item in place of the expected one.

    Received units are what inspection works on, numbered 1..received_quantity. A wrong item
    counts as received (it came in place of the line's unit) so that inspection records it
    (grade X, "not the item sold").
    """

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    return_line = models.ForeignKey(
        "returns.ReturnLine", on_delete=models.PROTECT, related_name="receipt_lines"
    )
    public_id = models.CharField(max_length=40, unique=True)
    expected_quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField(default=0)
    missing_quantity = models.PositiveIntegerField(default=0)
    wrong_item = models.BooleanField(default=False)
    wrong_item_description = models.CharField(max_length=300, blank=True)
    wrong_item_sku = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["receipt_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "return_line"], name="receipt_line_once"),
            models.CheckConstraint(
                condition=models.Q(received_quantity__lte=models.F("expected_quantity")),
                name="receipt_line_not_over_expected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.received_quantity}/{self.expected_quantity}"

    @property
    def units(self) -> range:
        """The received units' numbers, 1-based, as inspection addresses them."""
        return range(1, self.received_quantity + 1)


class UnidentifiedPackage(TimeStampedModel):
    """A package that matched no return this facility handles: kept in the exceptions queue
    with its code, photos and notes until someone links it to its return.

    Not a merchant's row until linked: nobody knows whose it is. The facility owns it.
    """

    public_id = models.CharField(max_length=40, unique=True)
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=100, blank=True)  # as scanned
    photo_upload_ids = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    received_at = models.DateTimeField()
    received_by_label = models.CharField(max_length=200)
    received_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_by_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merchant = models.ForeignKey(
        "tenants.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    return_request = models.ForeignKey(
        "returns.Return",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="unidentified_packages",
    )
    receipt = models.ForeignKey(
        Receipt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(null=True, blank=True)
    linked_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            # The same unmatched code scanned twice (or at two stations) is one package.
            models.UniqueConstraint(
                fields=["facility", "code"],
                condition=models.Q(linked_at__isnull=True) & ~models.Q(code=""),
                name="unidentified_code_once_while_open",
            )
        ]
        indexes = [
            models.Index(
                fields=["facility", "linked_at", "-received_at"], name="unidentified_queue"
            )
        ]

    def __str__(self) -> str:
        return self.public_id


# ----------------------------------------------------------------------------------------------
# Inspection, disposition and inventory (docs/decisions/0006-warehouse.md, "Inspection").

# Where a dispositioned unit is held, per the inventory ledger.
SELLABLE = "sellable"
REFURBISH_QUEUE = "refurbish_queue"
REPAIR_QUEUE = "repair_queue"
QUARANTINED = "quarantine"
OUTBOUND_VENDOR = "outbound_vendor"
OUTBOUND_LIQUIDATOR = "outbound_liquidator"
DONATED = "donated"
RECYCLED = "recycled"
DISCARDED = "discarded"
CONDITIONS = [
    SELLABLE,
    REFURBISH_QUEUE,
    REPAIR_QUEUE,
    QUARANTINED,
    OUTBOUND_VENDOR,
    OUTBOUND_LIQUIDATOR,
    DONATED,
    RECYCLED,
    DISCARDED,
]


class InspectionSettings(MerchantOwnedModel):
    """A merchant's inspection and disposition settings; a merchant without a row uses the
    defaults (`warehouse.inspection.settings_for`).

    `grade_scale` is `[{"code", "label"}]` best first (empty: A, B, C, D, X); D and X keep their
    meaning on every scale. `defect_codes` extends the provider's taxonomy with
    `[{"code", "label"}]`. `figures_overrides` is validated by
    `disposition.figures.parse_overrides`; `money_weight` and `carbon_price_per_tonne` are the
    engine's `Weighting`.
    """

    grade_scale = models.JSONField(default=list, blank=True)
    defect_codes = models.JSONField(default=list, blank=True)
    figures_overrides = models.JSONField(default=dict, blank=True)
    money_weight = models.DecimalField(max_digits=5, decimal_places=4, default="0.5")
    carbon_price_per_tonne = models.PositiveIntegerField(default=20_000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="inspection_settings_per_merchant")
        ]

    def __str__(self) -> str:
        return f"inspection settings of {self.merchant_id}"


class Inspection(MerchantOwnedModel):
    """What an inspector found on one received unit of a receipt line, and the disposition the
    engine recommended from it (its figures as `Recommendation.as_dict()`).

    `sku` and `reason` are copied from the return line so that defect trends per SKU and per
    reason are read without joins (see `InspectionDefect`). `contradictions` lists the findings
    that contradict the shopper (empty_box, wrong_item, counterfeit, serial_not_sold,
    claim_not_found); `contradicted` is set when there is any, and the customer's history reads
    it (returns.services.customer_history, risk_signals).
    """

    public_id = models.CharField(max_length=40, unique=True)
    receipt_line = models.ForeignKey(
        ReceiptLine, on_delete=models.PROTECT, related_name="inspections"
    )
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="inspections"
    )
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    unit = models.PositiveIntegerField()
    sku = models.CharField(max_length=64)
    reason = models.CharField(max_length=64, blank=True)
    grade = models.CharField(max_length=4)
    accessories_missing = models.JSONField(default=list, blank=True)
    matches_description = models.BooleanField(default=True)
    serial_number = models.CharField(max_length=100, blank=True)
    # True: sold on the order; False: not among the serials sold; None: nothing to check.
    serial_sold = models.BooleanField(null=True, blank=True)
    defect_codes = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    photo_upload_ids = models.JSONField(default=list, blank=True)
    contradicted = models.BooleanField(default=False)
    contradictions = models.JSONField(default=list, blank=True)
    recommendation = models.CharField(max_length=20)
    recommendation_figures = models.JSONField(default=dict)
    inspected_at = models.DateTimeField()
    seconds_spent = models.PositiveIntegerField(null=True, blank=True)
    inspected_by_label = models.CharField(max_length=200)
    inspected_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inspected_by_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrections = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["receipt_line_id", "unit"]
        constraints = [
            models.UniqueConstraint(fields=["receipt_line", "unit"], name="inspection_per_unit"),
            models.CheckConstraint(condition=models.Q(unit__gte=1), name="inspection_unit_from_1"),
        ]
        indexes = [
            models.Index(fields=["merchant", "sku", "inspected_at"], name="inspection_sku_trend"),
            models.Index(
                fields=["merchant", "reason", "inspected_at"], name="inspection_reason_trend"
            ),
            models.Index(
                fields=["return_request", "contradicted"], name="inspection_return_finding"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.sku} #{self.unit} {self.grade}"


class InspectionDefect(MerchantOwnedModel):
    """One defect code of one inspection, a row each, so that trends per SKU and per reason are
    counted by the database (`warehouse.inspection.defect_trends`)."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="defects")
    code = models.CharField(max_length=40)
    sku = models.CharField(max_length=64)
    reason = models.CharField(max_length=64, blank=True)
    inspected_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inspection", "code"], name="inspection_defect_once")
        ]
        indexes = [
            models.Index(fields=["merchant", "sku", "code", "inspected_at"], name="defect_by_sku"),
            models.Index(
                fields=["merchant", "reason", "code", "inspected_at"], name="defect_by_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.sku}"


class Disposition(MerchantOwnedModel):
    """What was done with an inspected unit: the chosen option (or quarantine), the engine's
    recommendation beside it, and the reason when they differ (an override). The unit's item
    tag carries `lpn`."""

    public_id = models.CharField(max_length=40, unique=True)
    inspection = models.OneToOneField(
        Inspection, on_delete=models.PROTECT, related_name="disposition"
    )
    return_request = models.ForeignKey(
        "returns.Return", on_delete=models.PROTECT, related_name="dispositions"
    )
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    option = models.CharField(max_length=20)
    recommended = models.CharField(max_length=20)
    overridden = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    figures = models.JSONField(default=dict, blank=True)  # the chosen option's figures
    condition = models.CharField(max_length=24, choices=[(c, c) for c in CONDITIONS])
    lpn = models.CharField(max_length=20, unique=True)
    decided_at = models.DateTimeField()
    decided_by_label = models.CharField(max_length=200)
    decided_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "option", "decided_at"], name="disposition_option"),
        ]

    def __str__(self) -> str:
        return f"{self.lpn} {self.option}"


class InventoryMovement(MerchantOwnedModel):
    """One line of the inventory ledger: `quantity` units (negative: out) of a SKU in a
    condition at a facility. Balances are sums over the ledger (`warehouse.inventory`);
    rows are never changed or deleted."""

    public_id = models.CharField(max_length=40, unique=True)
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    condition = models.CharField(max_length=24, choices=[(c, c) for c in CONDITIONS])
    quantity = models.IntegerField()
    lpn = models.CharField(max_length=20, blank=True)
    disposition = models.ForeignKey(
        Disposition, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    kind = models.CharField(max_length=20)  # disposition, move
    note = models.CharField(max_length=300, blank=True)
    moved_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(quantity=0), name="inventory_movement_not_zero"
            )
        ]
        indexes = [
            models.Index(fields=["facility", "sku", "condition"], name="inventory_balance"),
            models.Index(fields=["lpn"], name="inventory_by_lpn"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.sku} {self.condition}"
