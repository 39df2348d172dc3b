"""Writing the merchant's analytics settings (the rollups themselves are derived data,
written by `rollups.py`)."""

from __future__ import annotations

from django.db import transaction

from returndesk.analytics.models import AnalyticsSettings
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import ValidationFailed
from returndesk.core.tenancy import merchant_scope
from returndesk.tenants.models import Merchant

MAX_PROCESSING_COST = 1_000_000  # minor units: 10,000.00 in a two-decimal currency


def analytics_settings_update(
    *, merchant: Merchant, processing_cost_amount: int, actor: Actor
) -> AnalyticsSettings:
    """Set what handling one received return costs the merchant (minor units), the processing
    part of the cost per return; it applies to every range read from then on. Audit-logged."""
    amount = processing_cost_amount
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or not 0 <= amount <= MAX_PROCESSING_COST
    ):
        raise ValidationFailed.on(
            "processing_cost", f"is an amount in minor units from 0 to {MAX_PROCESSING_COST}"
        )
    with transaction.atomic(), merchant_scope(merchant):
        row, _ = AnalyticsSettings.objects.select_for_update().get_or_create(merchant=merchant)
        before = row.processing_cost_amount
        row.processing_cost_amount = amount
        row.save()
        if before != amount:
            audit_record(
                actor=actor,
                action="analytics_settings.saved",
                object_type="analytics_settings",
                object_ref=str(merchant.pk),
                merchant_id=merchant.pk,
                changes={"processing_cost_amount": {"from": before, "to": amount}},
            )
    return row
