from __future__ import annotations

from django.db import models

from returndesk.core.models import MerchantOwnedModel


class PolicyVersion(MerchantOwnedModel):
    """One published version of a merchant's return policy; never changed once written. The
    highest version is the current one, and every return records the version that decided it."""

    version = models.PositiveIntegerField()
    document = models.JSONField()
    published_by = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "version"], name="policy_version_per_merchant"
            )
        ]
        ordering = ["merchant_id", "-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class BlocklistEntry(models.Model):
    """An e-mail or postal code whose returns score as blocklisted: a merchant's own entry, or
    the provider's (merchant empty), which applies to every merchant."""

    KINDS = [("email", "e-mail"), ("postal_code", "postal code")]

    merchant = models.ForeignKey(
        "tenants.Merchant", null=True, blank=True, on_delete=models.CASCADE, db_index=True
    )
    kind = models.CharField(max_length=20, choices=KINDS)
    # An e-mail as stored (lower case), or a postal code as "<country>:<code without spaces,
    # upper case>", e.g. "GB:NW16XE".
    value = models.CharField(max_length=254)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind", "value"], name="blocklist_entry_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
