"""The provider's operations: facility calendars, per-client SLAs and their breaches, and each
client's fee schedule (docs/decisions/0016-provider-operations.md).

Money is an integer in minor units with its currency on every row.
"""

from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel, TimeStampedModel
from returndesk.disposition.engine import OPTIONS, QUARANTINE

# --- SLAs: what is measured, from which fact to which -----------------------------------------
INSPECT_AFTER_RECEIPT = "inspect_after_receipt"
DISPOSE_AFTER_INSPECTION = "dispose_after_inspection"
REFUND_AFTER_INSPECTION = "refund_after_inspection"
# kind -> (what starts the clock, what stops it), as people read them; operations/slas.py
# reads the facts.
SLA_KINDS: dict[str, tuple[str, str]] = {
    INSPECT_AFTER_RECEIPT: ("the package is received", "every received unit is inspected"),
    DISPOSE_AFTER_INSPECTION: ("every unit is inspected", "every unit is dispositioned"),
    REFUND_AFTER_INSPECTION: (
        "every unit is inspected",
        "the money is settled and the return completed",
    ),
}
SLA_KIND_CHOICES = [(kind, kind) for kind in SLA_KINDS]

# --- billing: the fees a schedule may set ------------------------------------------------------
FEE_RETURN = "return_processed"  # a package received for a return
FEE_LABEL = "label"  # a carrier label issued (voided ones too: the work was done)
FEE_INSPECTION = "inspection"  # a unit inspected
FEE_STORAGE = "storage_day"  # a package held for a day, from receipt to its last disposition
DISPOSITION_FEE_PREFIX = "disposition_"  # + the option: disposition_restock, ...
DISPOSITION_OPTIONS = (*OPTIONS, QUARANTINE)
FEES: tuple[str, ...] = (
    FEE_RETURN,
    FEE_LABEL,
    FEE_INSPECTION,
    *(f"{DISPOSITION_FEE_PREFIX}{option}" for option in DISPOSITION_OPTIONS),
    FEE_STORAGE,
)


class FacilityClosedDay(TimeStampedModel):
    """A day a facility does not work besides weekends and its country's public holidays (a
    stocktake, a local holiday). Provider-wide: a facility serves many merchants."""

    facility = models.ForeignKey(
        "tenants.Facility", on_delete=models.CASCADE, related_name="closed_days"
    )
    day = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    created_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["facility_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "day"], name="facility_closed_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.facility_id} closed {self.day}"


class ServiceLevel(MerchantOwnedModel):
    """One SLA the provider promised a merchant: `kind` done within `business_days` business
    days of the facility handling the return. Work that started before `effective_from` is not
    measured, so a new or tightened SLA does not flood the merchant with old breaches."""

    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=40, choices=SLA_KIND_CHOICES)
    business_days = models.PositiveSmallIntegerField()
    effective_from = models.DateTimeField()
    updated_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["merchant_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "kind"], name="service_level_per_kind"),
            models.CheckConstraint(
                condition=models.Q(business_days__gte=1, business_days__lte=60),
                name="service_level_days_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} within {self.business_days} business days"


class SlaBreach(MerchantOwnedModel):
    """A return that missed one of its merchant's SLAs: recorded once per return and kind (the
    unique constraint holds whatever runs the check), with the `sla.breached` outbox event
    written in the same transaction. `finished_at` is when the late work was done (empty while
    it is still waiting)."""

    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=40, choices=SLA_KIND_CHOICES)
    return_request = models.ForeignKey("returns.Return", on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey("tenants.Facility", on_delete=models.PROTECT, related_name="+")
    business_days = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField()
    event_id = models.CharField(max_length=40)

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["return_request", "kind"], name="sla_breach_once")
        ]
        indexes = [
            models.Index(fields=["merchant", "-due_at"], name="sla_breach_recent"),
            models.Index(fields=["facility", "-due_at"], name="sla_breach_facility"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} breached, due {self.due_at}"


class FeeRate(MerchantOwnedModel):
    """One line of a merchant's fee schedule: what the provider charges for one `fee` event
    (FEES), in minor units of the schedule's currency. A fee without a row is not charged."""

    fee = models.CharField(max_length=40)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    updated_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["merchant_id", "fee"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "fee"], name="fee_rate_once"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="fee_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.fee} {self.amount} {self.currency}"
